"""The storage and search contract of an index, whatever keeps it: the loaded ``Index`` record, the
``Search`` a retriever ranks with, and the ``Backend`` that builds are published to and loaded from.

Two backends (``factory.open_backend`` picks one from ``Config.store``): ``embedded`` (an index folder;
FAISS and bm25s in the process) and ``milvus`` (collections on a Milvus server or in a Milvus Lite file,
searched there). Either way the chunks, their vectors and their sentences' vectors are loaded into the
process, since query analysis and evidence scoring read all of them; only the rankings are the store's.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from ..text import tokens
from ..types import Chunk
from .manifest import IndexManifest


class Search(Protocol):
    """Rankings over one build's chunks (ids are positions in ``Index.chunks``). ``allowed`` masks the
    chunks a caller may receive; lexical ``terms`` are ``emhqa.text.tokens`` (repeats count again)."""

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray) -> list[int]:
        """The ``depth`` allowed chunks of highest inner product with ``query``, best first."""

    def lexical(self, terms: Sequence[str], depth: int, allowed: np.ndarray) -> list[int]:
        """The ``depth`` allowed chunks of highest BM25 score above 0, best first (ties: lower id first)."""

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[int]) -> list[float]:
        """The BM25 scores of chunks ``ids`` (bm25s's Lucene scale; 0 for a chunk without the terms)."""


@dataclass(frozen=True)
class Index:
    """A loaded, verified build."""

    manifest: IndexManifest
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # one unit vector per chunk, in id order
    sentence_vectors: np.ndarray  # rows follow the chunks' sentences in order
    sentence_offsets: np.ndarray  # chunk i's sentences are rows [offsets[i], offsets[i+1])
    search: Search
    # Each chunk's ``text.tokens`` of its ``embed_text`` (section title and text), computed once for the
    # stages that weigh words (BM25, IDF, query analysis): made here unless the loader already made them.
    chunk_tokens: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if len(self.chunk_tokens) != len(self.chunks):
            object.__setattr__(self, "chunk_tokens", chunk_tokens(self.chunks))

    def sentence_rows(self, chunk_id: int) -> np.ndarray:
        return self.sentence_vectors[self.sentence_offsets[chunk_id]:self.sentence_offsets[chunk_id + 1]]

    @property
    def titles(self) -> dict[str, str]:
        return self.manifest.titles

    @cached_property
    def chunk_terms(self) -> tuple[frozenset[str], ...]:
        """Each chunk's distinct tokens (``chunk_tokens`` as sets)."""
        return tuple(frozenset(terms) for terms in self.chunk_tokens)

    @cached_property
    def document_frequency(self) -> Counter[str]:
        """Token -> how many chunks hold it: the IDF of evidence scoring and the rarity of case words."""
        return Counter(t for terms in self.chunk_terms for t in terms)

    @cached_property
    def has_vectors(self) -> np.ndarray:
        """Per chunk, whether its vectors were computed: False for a document indexed keyword-first
        (``IndexManifest.awaiting_vectors``), whose rows are zeros until a later build fills them."""
        waiting = self.manifest.awaiting_vectors
        return np.array([c.source not in waiting for c in self.chunks], dtype=bool)


def chunk_tokens(chunks: Sequence[Chunk]) -> tuple[tuple[str, ...], ...]:
    """``Index.chunk_tokens`` of ``chunks``."""
    return tuple(tuple(tokens(c.embed_text)) for c in chunks)


def sentence_offsets(chunks: Sequence[Chunk]) -> np.ndarray:
    """Where each chunk's sentence vectors start (and, last, how many there are)."""
    return np.cumsum([0] + [len(c.sentences) for c in chunks])


class Backend(ABC):
    """Where an index's builds are kept: published whole, one at a time, and read back verified."""

    @abstractmethod
    def lock(self) -> AbstractContextManager[object]:
        """Held while a build is made: one build at a time across processes (waits for the one in progress)."""

    @abstractmethod
    def load(self) -> Index | None:
        """The current build, verified (None: nothing was ever built here); IndexDamagedError when unusable."""

    @abstractmethod
    def publish(self, chunks: Sequence[Chunk], vectors: np.ndarray, sentence_vectors: np.ndarray,
                manifest: IndexManifest) -> Index:
        """Write a new build, make it the current one in one step (a reader sees the old build or the
        new one, never a mix), drop older builds, and return it loaded. Call it holding ``lock``."""

    @abstractmethod
    def stamp(self) -> str:
        """Cheap to ask, and changed by every publish, in this process or another (freshness checks)."""
