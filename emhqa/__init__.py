"""emhqa: cited, offline question answering about extramedullary hematopoiesis (EMH).

    >>> import emhqa
    >>> qa = emhqa.load()
    >>> answer = qa.ask("How is extramedullary hematopoiesis treated?")
"""
from __future__ import annotations

from .config import Config
from .errors import (ConfigError, CorpusError, EmhqaError, GeneratorError, IndexDamagedError, IndexWriteError,
                     QuestionError)
from .types import Answer, AnswerDetails, Chunk, Citation, Passage, Section

__version__ = "0.1.0"


def load(config: Config | None = None, **options):
    """Load the default corpus, model and index (building the index if needed); returns a ``QA``."""
    from .pipeline import load as _load

    return _load(config, **options)


def prepare_index(config: Config | None = None, **options):
    """Build the index if it is missing or stale (``rebuild=True`` forces it); returns its manifest."""
    from .pipeline import prepare_index as _prepare

    return _prepare(config, **options)


__all__ = ["Answer", "AnswerDetails", "Chunk", "Citation", "Config", "ConfigError", "CorpusError", "EmhqaError",
           "GeneratorError", "IndexDamagedError", "IndexWriteError", "Passage", "QuestionError", "Section", "load",
           "prepare_index"]
