"""Sentence-level evidence for a question: how well each retrieved sentence matches it.

Shared by the extractive generator (which sentences to quote) and by abstention (is anything
relevant at all). Sentence vectors come from the index, so a question costs one embedding.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .index import Index
from .text import tokens
from .types import Passage, Span


@dataclass(frozen=True)
class ScoredSentence:
    passage: int  # position of its passage in the retrieved list
    sentence: Span
    similarity: float  # cosine between question and sentence
    overlap: float  # share of the question's term weight found in the sentence
    score: float


class Evidence:
    """IDF weights over the indexed chunks, and sentence scoring against a question."""

    def __init__(self, index: Index, overlap_weight: float = 0.3):
        self.index = index
        self.overlap_weight = overlap_weight
        self._chunk_terms = [frozenset(tokens(c.embed_text)) for c in index.chunks]
        df = Counter(t for terms in self._chunk_terms for t in terms)
        n = max(len(index.chunks), 1)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._terms: dict[int, list[frozenset[str]]] = {}  # chunk id -> its sentences' terms, filled on use

    def chunk_terms(self, chunk_id: int) -> frozenset[str]:
        return self._chunk_terms[chunk_id]

    def sentence_terms(self, chunk_id: int) -> list[frozenset[str]]:
        if chunk_id not in self._terms:
            chunk = self.index.chunks[chunk_id]
            self._terms[chunk_id] = [frozenset(tokens(f"{chunk.section} {s.text}")) for s in chunk.sentences]
        return self._terms[chunk_id]

    def weights(self, question: str) -> dict[str, float]:
        return {t: self.idf.get(t, self.unseen_idf) for t in set(tokens(question))}

    def overlap(self, weights: dict[str, float], present: frozenset[str]) -> float:
        """Share of the weighted question terms found among ``present`` terms."""
        total = sum(weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in weights.items() if t in present) / total

    def unseen_share(self, weights: dict[str, float]) -> float:
        """Share of the question's term weight on words the corpus never uses."""
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t not in self.idf) / total if total else 1.0

    def score(self, question: str, query: np.ndarray, passages: Sequence[Passage]) -> list[ScoredSentence]:
        weights = self.weights(question)
        scored = []
        for rank, passage in enumerate(passages):
            sims = self.index.sentence_rows(passage.chunk.id) @ query
            for sentence, sim, terms in zip(passage.chunk.sentences, sims, self.sentence_terms(passage.chunk.id)):
                overlap = self.overlap(weights, terms)
                scored.append(ScoredSentence(rank, sentence, float(sim), overlap,
                                             float(sim) + self.overlap_weight * overlap))
        return scored
