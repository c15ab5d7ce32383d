"""Hybrid retrieval: the index's dense and lexical rankings (``index.Search``: FAISS and bm25s, or
Milvus) fused here by weighted reciprocal rank fusion, whichever backend ranked them."""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Literal, Protocol

import numpy as np

from .config import Config
from .index import Index, mean_direction, without_direction
from .query import QueryAnalyzer
from .synonyms import related
from .text import tokens
from .types import Chunk, Passage

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
        self._by_source: dict[str, list[int]] = {}  # chunk ids of each source and of each heading's words
        self._by_heading: dict[frozenset[str], list[int]] = {}
        for i, chunk in enumerate(index.chunks):
            self._by_source.setdefault(chunk.source, []).append(i)
            self._by_heading.setdefault(frozenset(tokens(chunk.section)), []).append(i)
        self._topic = mean_direction(index.vectors)

    def with_mode(self, mode: Mode) -> "HybridRetriever":
        """This retriever searching in ``mode``: a shallow copy sharing the index and its search."""
        other = copy.copy(self)
        other.mode = _checked(mode)
        return other

    def _allowed(self, exclude: Exclude | None) -> np.ndarray:
        return np.array([not exclude(c) for c in self.index.chunks], dtype=bool) if exclude \
            else np.ones(len(self.index.chunks), dtype=bool)

    def _fused(self, question: str, keywords: str, allowed: np.ndarray, depth: int,
               fused: dict[int, float]) -> np.ndarray:
        """Add one question's weighted reciprocal ranks (dense and lexical) to ``fused``; returns its
        query vector."""
        query, search = self.encoder.encode_query(question), self.index.search
        if self.mode != "lexical":  # the corpus's mean direction taken out: every chunk is "about EMH"
            searchable = allowed & self.index.has_vectors  # documents indexed keyword-first have no vectors yet
            for rank, i in enumerate(search.dense(without_direction(query, self._topic), depth, searchable)):
                fused[i] = fused.get(i, 0.0) + self.config.dense_weight / (self.config.rrf_k + rank + 1)
        if self.mode != "dense":
            for rank, i in enumerate(search.lexical(tokens(keywords), depth, allowed)):
                fused[i] = fused.get(i, 0.0) + self.config.lexical_weight / (self.config.rrf_k + rank + 1)
        return query

    def _related_vote(self, focus: frozenset[str], allowed: np.ndarray, depth: int, fused: dict[int, float]) -> None:
        """Add the weighted reciprocal ranks of a lexical search for the related words of ``focus`` that
        it does not use itself (``synonyms.related``: "below" finds "caudal", "lumps" "masses")."""
        terms = sorted(frozenset().union(*map(related, focus)) - focus)
        if not terms or self.mode == "dense" or not self.config.related_vote:
            return
        weight = self.config.related_vote * self.config.lexical_weight
        for rank, i in enumerate(self.index.search.lexical(terms, depth, allowed)):
            fused[i] = fused.get(i, 0.0) + weight / (self.config.rrf_k + rank + 1)

    def retrieve(self, question: str, k: int, exclude: Exclude | None = None) -> list[Passage]:
        """The ``k`` best chunks: every part of a several-part question votes, and a question that
        names a case report gets that report's chunks first."""
        if not self.index.chunks or k < 1:
            return []
        allowed = self._allowed(exclude)
        depth = max(self.config.candidates, k)
        analysed = self.analyzer.analyze(question)
        fused: dict[int, float] = {}
        query = self._fused(analysed.searches[0], analysed.keywords[0], allowed, depth, fused)
        for search, keywords in zip(analysed.searches[1:], analysed.keywords[1:]):
            self._fused(search, keywords, allowed, depth, fused)
        self._related_vote(analysed.focus, allowed, depth, fused)
        named = self._by_source.get(analysed.document, []) if analysed.document else []  # the case report named
        own = self._by_heading.get(frozenset(tokens(analysed.text)), [])  # the question is a section's heading
        for i in (*named, *own):
            if allowed[i]:
                fused[i] = fused.get(i, 0.0) + len(analysed.searches)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        lexical = self.index.search.lexical_scores(tokens(analysed.keywords[0]), best)
        return [Passage(self.index.chunks[i], fused[i], float(self.index.vectors[i] @ query), score)
                for i, score in zip(best, lexical)]
