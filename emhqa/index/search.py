"""The embedded backend's search, in the process: FAISS inner product over the chunk vectors and
bm25s (Lucene's BM25, k1 1.5, b 0.75) over each chunk's ``embed_text`` tokens."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cached_property, lru_cache

import bm25s
import faiss
import numpy as np


logging.getLogger("bm25s").setLevel(logging.WARNING)


class EmbeddedSearch:
    """``base.Search`` over a FAISS index and a bm25s index built from the chunks' tokens
    (``Index.chunk_tokens``) at the first lexical search: a build that loads the previous one only for
    its vectors never builds it."""

    def __init__(self, dense: faiss.Index, chunk_tokens: Sequence[Sequence[str]]):
        self.index = dense
        self._tokens = chunk_tokens
        self._scores = lru_cache(maxsize=64)(self._all_scores)  # a question's terms are ranked, then scored

    @cached_property
    def _bm25(self) -> bm25s.BM25:
        bm25 = bm25s.BM25()
        bm25.index([list(terms) or [""] for terms in self._tokens], show_progress=False)
        return bm25

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray) -> list[int]:
        """Searched deep enough to still fill ``depth`` after the chunks that are not allowed."""
        wanted = min(self.index.ntotal, depth + int((~allowed).sum()))
        _, ids = self.index.search(query[None, :], wanted)
        found = ids[0][ids[0] >= 0]
        return found[allowed[found]][:depth].tolist()

    def _all_scores(self, terms: tuple[str, ...]) -> np.ndarray:
        known = [t for t in terms if t in self._bm25.vocab_dict]
        return self._bm25.get_scores(known) if known else np.zeros(len(self._tokens))

    def lexical(self, terms: Sequence[str], depth: int, allowed: np.ndarray) -> list[int]:
        scores = self._scores(tuple(terms))
        order = np.argsort(-scores, kind="stable")
        return order[(scores[order] > 0) & allowed[order]][:depth].tolist()

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[int]) -> list[float]:
        scores = self._scores(tuple(terms))
        return [float(scores[i]) for i in ids]
