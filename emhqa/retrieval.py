"""Hybrid retrieval: FAISS dense search and BM25 lexical search fused by reciprocal rank fusion."""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Literal, Protocol

import bm25s
import numpy as np

from .config import Config
from .index import Index, index_vectors, mean_direction, without_direction
from .query import QueryAnalyzer
from .text import tokens
from .types import Chunk, Passage

logging.getLogger("bm25s").setLevel(logging.WARNING)

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")
Exclude = Callable[[Chunk], bool]


def _checked(mode: Mode) -> Mode:
    """``mode``, or ValueError when it is not one of ``MODES`` (a Literal is not checked at run time)."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


class QueryEncoder(Protocol):
    def encode_query(self, text: str) -> np.ndarray:
        """The unit-length vector of one question."""


class HybridRetriever:
    """Dense and lexical rankings over the same chunks, fused with weighted reciprocal ranks."""

    def __init__(self, index: Index, encoder: QueryEncoder, config: Config, mode: Mode = "hybrid",
                 analyzer: QueryAnalyzer | None = None):
        self.index, self.encoder, self.config, self.mode = index, encoder, config, _checked(mode)
        self.analyzer = analyzer or QueryAnalyzer(index)
        self._bm25 = bm25s.BM25()
        self._bm25.index([tokens(c.embed_text) or [""] for c in index.chunks], show_progress=False)
        self._vectors = index_vectors(index.dense)
        self._headings = [frozenset(tokens(c.section)) for c in index.chunks]
        self._topic = mean_direction(self._vectors)

    def with_mode(self, mode: Mode) -> "HybridRetriever":
        """This retriever searching in ``mode``: a shallow copy sharing the built BM25 index and vectors."""
        other = copy.copy(self)
        other.mode = _checked(mode)
        return other

    def _allowed(self, exclude: Exclude | None) -> np.ndarray:
        return np.array([not exclude(c) for c in self.index.chunks], dtype=bool) if exclude \
            else np.ones(len(self.index.chunks), dtype=bool)

    def _dense_ranking(self, query: np.ndarray, allowed: np.ndarray, depth: int) -> list[int]:
        """FAISS inner-product search, deep enough to still fill ``depth`` after exclusions."""
        wanted = min(self.index.dense.ntotal, depth + int((~allowed).sum()))
        _, ids = self.index.dense.search(query[None, :], wanted)
        return [int(i) for i in ids[0] if i >= 0 and allowed[i]][:depth]

    def _lexical_scores(self, question: str) -> np.ndarray:
        terms = [t for t in tokens(question) if t in self._bm25.vocab_dict]
        return self._bm25.get_scores(terms) if terms else np.zeros(len(self.index.chunks))

    def _fused(self, question: str, keywords: str, allowed: np.ndarray, depth: int,
               fused: dict[int, float]) -> tuple[np.ndarray, np.ndarray | None]:
        """Add one question's weighted reciprocal ranks (dense and lexical) to ``fused``; returns its
        query vector and its BM25 scores (None when this mode did not compute them)."""
        query, lexical = self.encoder.encode_query(question), None
        if self.mode != "lexical":  # the corpus's mean direction taken out: every chunk is "about EMH"
            for rank, i in enumerate(self._dense_ranking(without_direction(query, self._topic), allowed, depth)):
                fused[i] = fused.get(i, 0.0) + self.config.dense_weight / (self.config.rrf_k + rank + 1)
        if self.mode != "dense":
            lexical = self._lexical_scores(keywords)
            order = [int(i) for i in np.argsort(-lexical, kind="stable") if lexical[i] > 0 and allowed[i]]
            for rank, i in enumerate(order[:depth]):
                fused[i] = fused.get(i, 0.0) + self.config.lexical_weight / (self.config.rrf_k + rank + 1)
        return query, lexical

    def retrieve(self, question: str, k: int, exclude: Exclude | None = None) -> list[Passage]:
        """The ``k`` best chunks: every part of a several-part question votes, and a question that
        names a case report gets that report's chunks first."""
        if not self.index.chunks or k < 1:
            return []
        allowed = self._allowed(exclude)
        depth = max(self.config.candidates, k)
        analysed = self.analyzer.analyze(question)
        fused: dict[int, float] = {}
        query, lexical = self._fused(analysed.searches[0], analysed.keywords[0], allowed, depth, fused)
        for search, keywords in zip(analysed.searches[1:], analysed.keywords[1:]):
            self._fused(search, keywords, allowed, depth, fused)
        asked = frozenset(tokens(analysed.text))
        for i, chunk in enumerate(self.index.chunks):
            if not allowed[i]:
                continue
            if chunk.source == analysed.document:  # the case report the question names
                fused[i] = fused.get(i, 0.0) + len(analysed.searches)
            if self._headings[i] == asked:  # the question is this section's own heading (an FAQ entry)
                fused[i] = fused.get(i, 0.0) + len(analysed.searches)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        if lexical is None:
            lexical = self._lexical_scores(analysed.keywords[0])
        return [Passage(self.index.chunks[i], fused[i], float(self._vectors[i] @ query), float(lexical[i]))
                for i in best]
