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


def open_index(config: Config | None = None, **options):
    """The verified index of the default corpus (``emhqa.index.open_index``): built if it is missing or
    stale, or with ``rebuild=True``; ``progress`` receives the build's messages. ``load(index=...)``
    takes it."""
    from .index import open_index as _open

    return _open(config or Config(), **options)


__all__ = ["Answer", "AnswerDetails", "Chunk", "Citation", "Config", "ConfigError", "CorpusError", "EmhqaError",
           "GeneratorError", "IndexDamagedError", "IndexWriteError", "Passage", "QuestionError", "Section", "load",
           "open_index"]
