"""The default generator: quotes the one to few retrieved sentences that best answer the question."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..evidence import Evidence, ScoredSentence
from .base import Claim, Draft, Generator
from ..types import Passage


# How much a sentence's share of the question's weighted words counts next to its meaning when
# choosing what to quote (evidence scoring uses 0.3). Chosen on the tuning half of eval/dev.jsonl
# (0.3 / 0.6 / 1.0: dev F1 0.558 / 0.552 / 0.625); on the report half, citation precision 0.435 -> 0.522.
OVERLAP_WEIGHT = 1.0


class ExtractiveGenerator(Generator):
    """Deterministic: best sentence, plus close runners-up (same passage first), in reading order."""

    name = "extractive"

    def __init__(self, evidence: Evidence, encoder, max_sentences: int = 3,
                 same_passage_margin: float = 0.15, other_passage_margin: float = 0.05,
                 overlap_weight: float = OVERLAP_WEIGHT):
        self.evidence, self.encoder = evidence, encoder
        self.max_sentences, self.overlap_weight = max_sentences, overlap_weight
        self.same_passage_margin, self.other_passage_margin = same_passage_margin, other_passage_margin

    @staticmethod
    def sentences_to_quote(scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """Sentences of four words or more; a bare label such as 'Extramedullary hematopoiesis' says
        nothing on its own and is quoted only when nothing longer was retrieved (a final diagnosis)."""
        full = [s for s in scored if len(s.sentence.text.split()) >= 4]
        return full or scored

    def value(self, sentence: ScoredSentence) -> float:
        return sentence.similarity + self.overlap_weight * sentence.overlap

    def select(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        if not scored:
            return []
        ranked = sorted(scored, key=lambda s: (-self.value(s), s.passage, s.sentence.start))
        best = ranked[0]
        chosen = [best]
        for candidate in ranked[1:]:
            same_passage = candidate.passage == best.passage
            margin = self.same_passage_margin if same_passage else self.other_passage_margin
            # Another passage's sentence must cover the question's words as well as the best one does:
            # otherwise it only shares the topic, not the answer.
            if len(chosen) < self.max_sentences and self.value(candidate) >= self.value(best) - margin \
                    and (same_passage or candidate.overlap >= best.overlap):
                chosen.append(candidate)
        return sorted(chosen, key=lambda s: (s.passage, s.sentence.start))

    def generate(self, question: str, passages: Sequence[Passage]) -> Draft:
        query: np.ndarray = self.encoder.encode_query(question)
        scored = self.evidence.score(question, query, passages)
        chosen = self.select(self.sentences_to_quote(scored))
        if not chosen:
            return self.abstain("no sentence to quote")
        return Draft(tuple(Claim(" ".join(s.sentence.text.split()), s.passage, s.sentence) for s in chosen))
