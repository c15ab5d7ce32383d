"""``python -m emhqa``: the same as the ``emhqa`` command."""
import sys

from .cli import main

sys.exit(main())
