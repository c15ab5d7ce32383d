"""Errors a user can act on; each message says what to do next."""
from __future__ import annotations


class EmhqaError(Exception):
    """Base class of every error emhqa raises on purpose."""


class QuestionError(EmhqaError, ValueError):
    """The question cannot be asked as given (empty, or too long)."""


class ConfigError(EmhqaError, ValueError):
    """A setting (argument, environment variable or Config field) has an invalid value."""


class CorpusError(EmhqaError):
    """The corpus folder or its manifest cannot be used."""


class IndexDamagedError(EmhqaError):
    """The index on disk is missing, damaged or unusable; rebuilding fixes it."""

    def __init__(self, problem: str):
        super().__init__(f"{problem}. Run `emhqa index --rebuild` to rebuild the index.")
        self.problem = problem


class IndexOutdatedError(IndexDamagedError):
    """The index was written in an older format by an earlier emhqa: ``open_index`` rebuilds it."""


class IndexWriteError(EmhqaError):
    """The index must be built or rebuilt, but its folder cannot be written (read-only, no space)."""


class StoreError(EmhqaError):
    """The configured index store (a Milvus server or file) cannot be reached or used as it is."""


class GeneratorError(EmhqaError):
    """A generator name is unknown or a generator failed."""
