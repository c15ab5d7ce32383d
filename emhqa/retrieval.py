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
        self._bm25.index([list(terms) or [""] for terms in index.chunk_tokens], show_progress=False)
        self._vectors = index_vectors(index.dense)
        self._by_source: dict[str, list[int]] = {}  # chunk ids of each source and of each heading's words
        self._by_heading: dict[frozenset[str], list[int]] = {}
        for i, chunk in enumerate(index.chunks):
            self._by_source.setdefault(chunk.source, []).append(i)
            self._by_heading.setdefault(frozenset(tokens(chunk.section)), []).append(i)
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
        found = ids[0][ids[0] >= 0]
        return found[allowed[found]][:depth].tolist()

    def _lexical_scores(self, question: str) -> np.ndarray:
        terms = [t for t in tokens(question) if t in self._bm25.vocab_dict]
        return self._bm25.get_scores(terms) if terms else np.zeros(len(self.index.chunks))

    def _fused(self, question: str, keywords: str, allowed: np.ndarray, depth: int,
               fused: dict[int, float]) -> tuple[np.ndarray, np.ndarray | None]:
        """Add one question's weighted reciprocal ranks (dense and lexical) to ``fused``; returns its
        query vector and its BM25 scores (None when this mode did not compute them)."""
        query, lexical = self.encoder.encode_query(question), None
        if self.mode != "lexical":  # the corpus's mean direction taken out: every chunk is "about EMH"
            searchable = allowed & self.index.has_vectors  # documents indexed keyword-first have no vectors yet
            for rank, i in enumerate(self._dense_ranking(without_direction(query, self._topic), searchable, depth)):
                fused[i] = fused.get(i, 0.0) + self.config.dense_weight / (self.config.rrf_k + rank + 1)
        if self.mode != "dense":
            lexical = self._lexical_scores(keywords)
            order = np.argsort(-lexical, kind="stable")
            for rank, i in enumerate(order[(lexical[order] > 0) & allowed[order]][:depth].tolist()):
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
        named = self._by_source.get(analysed.document, []) if analysed.document else []  # the case report named
        own = self._by_heading.get(frozenset(tokens(analysed.text)), [])  # the question is a section's heading
        for i in (*named, *own):
            if allowed[i]:
                fused[i] = fused.get(i, 0.0) + len(analysed.searches)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        if lexical is None:
            lexical = self._lexical_scores(analysed.keywords[0])
        return [Passage(self.index.chunks[i], fused[i], float(self._vectors[i] @ query), float(lexical[i]))
                for i in best]
