"""The default generator: quotes the retrieved sentences that ``Evidence.assess`` chose as the answer."""
from __future__ import annotations

from collections.abc import Sequence

from ..evidence import Evidence
from ..types import Passage
from .base import Claim, Draft, Generator


class ExtractiveGenerator(Generator):
    """Deterministic: each part's most probable sentences with what they need to be understood."""

    def __init__(self, evidence: Evidence):
        self.evidence = evidence

    def generate(self, question: str, passages: Sequence[Passage]) -> Draft:
        # The assessment the pipeline made to decide whether to answer (``assess`` is cached): the
        # sentences are not scored a second time.
        answer = self.evidence.assess(question, tuple(passages)).answer
        if not answer:
            return self.abstain("no sentence to quote")
        return Draft(tuple(Claim(" ".join(s.sentence.text.split()), s.passage, s.sentence) for s in answer))
