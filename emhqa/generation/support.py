"""Is a claim supported by its passage? A model's cited reply is checked sentence by sentence against
the passages it was given; only supported sentences survive (the pipeline then numbers and verifies
their citations, ``citations.py``).

Policy (documented in the README): a marker naming no given passage is removed and reported; a
sentence whose cited passage does not support it is **dropped** from the answer and reported in
``Draft.unsupported`` (a medical answer is better short than wrong); an uncited sentence is kept
only when some given passage supports it, and then cites it. The quote of every kept sentence is
the passage sentence that supports it best: corpus text with its offsets, never model text.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..citations import cited_passages, marker, markers_before_stops, without_reply_markers
from ..evidence import Evidence, ScoredSentence
from ..text import sentences, tokens
from ..types import Claim, Draft, Passage, Span

# A reply saying the passages do not answer (the prompt asks for "The sources do not cover this question").
SAYS_NOT_COVERED = re.compile(
    r"\b(do(es)?\s+not|don't|doesn't)\s+(cover|contain|address|mention|provide|discuss|answer)\b|"
    r"\bnot\s+(covered|addressed|mentioned)\b|\bcannot\s+answer\b|\bcan't\s+answer\b|"
    r"\bno\s+(information|mention)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SupportRule:
    """A sentence is supported by a corpus sentence that is very close in meaning, or fairly close
    and sharing most of its weighted words. Set on hand-written paraphrases and unsupported claims
    (tests/test_generators.py); it cannot see a negation that keeps the words (a known limit)."""

    strong_similarity: float = 0.75
    min_similarity: float = 0.55
    min_overlap: float = 0.5
    overlap_weight: float = 0.3  # which sentence is the best support: similarity + this x overlap

    def holds(self, best: ScoredSentence) -> bool:
        return best.similarity >= self.strong_similarity or (
            best.similarity >= self.min_similarity and best.overlap >= self.min_overlap)


class SupportChecker:
    """Keeps the sentences of a model's reply that a given passage supports (``SupportRule``)."""

    def __init__(self, evidence: Evidence, encoder, rule: SupportRule = SupportRule()):
        self.evidence, self.encoder, self.rule = evidence, encoder, rule

    def best_support(self, claim: str, passages: Sequence[Passage], allowed: Sequence[int]) -> ScoredSentence | None:
        """The sentence of the allowed passages that best supports ``claim`` (passage = position)."""
        query, weights = self.encoder.encode_query(claim), self.evidence.weights(tokens(claim))
        scored = [ScoredSentence(i, sentence, similarity, overlap, similarity + self.rule.overlap_weight * overlap)
                  for i in allowed
                  for sentence, similarity, overlap in self.evidence.matches(passages[i].chunk, query, weights,
                                                                             topic_free=False)]
        return max(scored, key=lambda s: s.score, default=None)

    def check(self, reply: str, passages: Sequence[Passage], max_sentences: int) -> Draft:
        """The reply's supported sentences as claims; only its first ``max_sentences`` are checked
        (each check embeds the sentence), the rest are left out with a warning."""
        reply = markers_before_stops(reply.strip())
        self.evidence.embed_waiting([p.chunk.id for p in passages])  # a model may quote any of their sentences
        claims, warnings, unsupported, said_not_covered = [], [], [], False
        spans = sentences(reply, Span(0, len(reply), reply))
        if len(spans) > max_sentences:
            warnings.append(f"the model's reply has {len(spans)} sentences; only the first {max_sentences} "
                            "were checked, the rest were left out")
        for span in spans[:max_sentences]:
            cited: list[int] = []
            for number in cited_passages(span.text):
                if 1 <= number <= len(passages):
                    cited.append(number - 1)
                else:
                    warnings.append(f"removed citation {marker(number)}: only {len(passages)} passages were given")
            text = " ".join(without_reply_markers(span.text).split())
            text = re.sub(r"\s+([.,;:!?])", r"\1", text)
            if len(re.findall(r"\w+", text)) < 3:
                continue
            if SAYS_NOT_COVERED.search(text):
                said_not_covered = True
                continue
            best = self.best_support(text, passages, sorted(set(cited)) or range(len(passages)))
            if best is not None and self.rule.holds(best):
                claims.append(Claim(text, best.passage, best.sentence))
            else:
                unsupported.append(text)
        if unsupported:
            warnings.append(f"{len(unsupported)} sentence(s) of the model's reply were removed: "
                            "the passages they cite do not support them")
        abstained = not claims and said_not_covered
        return Draft(tuple(claims), abstained=abstained, warnings=tuple(warnings), unsupported=tuple(unsupported))
