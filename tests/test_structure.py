"""The code's structure, checked: the import layers of pyproject.toml ([tool.importlinter]) hold, so the
import graph has no cycle, and emhqa/config.py is the one module that reads environment variables."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from emhqa.config import PACKAGE_DIR, REPO_ROOT


def test_every_module_imports_only_the_layers_below_it():
    lint = Path(sys.executable).with_name("lint-imports")
    command = str(lint) if lint.is_file() else shutil.which("lint-imports")
    assert command, "lint-imports is missing: pip install -e '.[test]'"
    result = subprocess.run([command, "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_only_config_reads_environment_variables():
    readers = [path.relative_to(PACKAGE_DIR) for path in PACKAGE_DIR.rglob("*.py")
               if path.name != "config.py" and re.search(r"\bos\.environ\b|\bgetenv\b", path.read_text(encoding="utf-8"))]
    assert readers == []
