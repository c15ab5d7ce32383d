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
        df = Counter(t for c in index.chunks for t in set(tokens(c.embed_text)))
        n = max(len(index.chunks), 1)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)

    def weights(self, question: str) -> dict[str, float]:
        return {t: self.idf.get(t, self.unseen_idf) for t in set(tokens(question))}

    def overlap(self, weights: dict[str, float], text: str) -> float:
        total = sum(weights.values())
        if not total:
            return 0.0
        present = set(tokens(text))
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
            for sentence, sim in zip(passage.chunk.sentences, sims):
                overlap = self.overlap(weights, f"{passage.chunk.section} {sentence.text}")
                scored.append(ScoredSentence(rank, sentence, float(sim), overlap,
                                             float(sim) + self.overlap_weight * overlap))
        return scored
