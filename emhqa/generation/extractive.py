"""The default generator: quotes the one to few retrieved sentences that best answer the question."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..evidence import Evidence, ScoredSentence
from .base import Claim, Draft, Generator
from ..types import Passage


class ExtractiveGenerator(Generator):
    """Deterministic: best sentence, plus close runners-up (same passage first), in reading order."""

    name = "extractive"

    def __init__(self, evidence: Evidence, encoder, max_sentences: int = 3,
                 same_passage_margin: float = 0.15, other_passage_margin: float = 0.05):
        self.evidence, self.encoder = evidence, encoder
        self.max_sentences = max_sentences
        self.same_passage_margin, self.other_passage_margin = same_passage_margin, other_passage_margin

    @staticmethod
    def quotable(sentence: ScoredSentence, passages: Sequence[Passage]) -> bool:
        """A label such as 'Extramedullary hematopoiesis (EMH)' says nothing on its own: a quote needs
        four words, unless it is all its passage holds (a final diagnosis)."""
        return len(sentence.sentence.text.split()) >= 4 or len(passages[sentence.passage].chunk.sentences) == 1

    def select(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        if not scored:
            return []
        ranked = sorted(scored, key=lambda s: (-s.score, s.passage, s.sentence.start))
        best = ranked[0]
        chosen = [best]
        for candidate in ranked[1:]:
            margin = self.same_passage_margin if candidate.passage == best.passage else self.other_passage_margin
            if len(chosen) < self.max_sentences and candidate.score >= best.score - margin:
                chosen.append(candidate)
        return sorted(chosen, key=lambda s: (s.passage, s.sentence.start))

    def generate(self, question: str, passages: Sequence[Passage]) -> Draft:
        query: np.ndarray = self.encoder.encode_query(question)
        scored = self.evidence.score(question, query, passages)
        chosen = self.select([s for s in scored if self.quotable(s, passages)])
        if not chosen:
            return self.abstain("no sentence to quote")
        return Draft(tuple(Claim(" ".join(s.sentence.text.split()), s.passage, s.sentence) for s in chosen))
