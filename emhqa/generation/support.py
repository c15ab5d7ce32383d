"""Check a model's cited reply against the passages it was given; only supported sentences survive.

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

from ..evidence import Evidence, ScoredSentence
from ..text import sentences
from ..types import Passage, Span
from .base import Claim, Draft

MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A run of markers written after the full stop belongs to the sentence before it.
_TRAILING_MARKERS = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")
NOT_COVERED = re.compile(
    r"\b(do(es)?\s+not|don't|doesn't)\s+(cover|contain|address|mention|provide|discuss|answer)\b|"
    r"\bnot\s+(covered|addressed|mentioned)\b|\bcannot\s+answer\b|\bcan't\s+answer\b|"
    r"\bno\s+(information|mention)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SupportRule:
    """A sentence is supported by a corpus sentence that is very close in meaning, or fairly close
    and sharing most of its weighted words. Set on hand-written paraphrases and unsupported claims
    (tests/test_verification.py); it cannot see a negation that keeps the words (a known limit)."""

    strong_similarity: float = 0.75
    min_similarity: float = 0.55
    min_overlap: float = 0.5

    def holds(self, best: ScoredSentence) -> bool:
        return best.similarity >= self.strong_similarity or (
            best.similarity >= self.min_similarity and best.overlap >= self.min_overlap)


class Verifier:
    def __init__(self, evidence: Evidence, encoder, rule: SupportRule = SupportRule()):
        self.evidence, self.encoder, self.rule = evidence, encoder, rule

    def best_support(self, claim: str, passages: Sequence[Passage], allowed: Sequence[int]) -> ScoredSentence | None:
        """The sentence of the allowed passages that best supports ``claim`` (passage = position)."""
        chosen = [passages[i] for i in allowed]
        scored = self.evidence.score(claim, self.encoder.encode_query(claim), chosen)
        if not scored:
            return None
        best = max(scored, key=lambda s: s.score)
        return ScoredSentence(allowed[best.passage], best.sentence, best.similarity, best.overlap, best.score)

    def verify(self, reply: str, passages: Sequence[Passage], max_sentences: int) -> Draft:
        """The reply's supported sentences as claims; only its first ``max_sentences`` are checked
        (each check embeds the sentence), the rest are left out with a warning."""
        reply = _TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), reply.strip())
        claims, warnings, unsupported, said_not_covered = [], [], [], False
        spans = sentences(reply, Span(0, len(reply), reply))
        if len(spans) > max_sentences:
            warnings.append(f"the model's reply has {len(spans)} sentences; only the first {max_sentences} "
                            "were checked, the rest were left out")
        for span in spans[:max_sentences]:
            cited: list[int] = []
            for group in MARKERS.findall(span.text):
                for number in (int(n) for n in group.split(",")):
                    if 1 <= number <= len(passages):
                        cited.append(number - 1)
                    else:
                        warnings.append(f"removed citation [{number}]: only {len(passages)} passages were given")
            text = " ".join(MARKERS.sub("", span.text).split())
            text = re.sub(r"\s+([.,;:!?])", r"\1", text)
            if len(re.findall(r"\w+", text)) < 3:
                continue
            if NOT_COVERED.search(text):
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
