"""The generator contract: a question and its retrieved passages in, a cited draft out."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from ..types import Claim, Draft, Passage

__all__ = ["Claim", "Draft", "Generator"]  # a plug-in's records live in types.py, beside the others


class Generator(ABC):
    """Subclasses implement ``generate`` (and ``stream`` when they can); the pipeline numbers and
    verifies the citations."""

    @abstractmethod
    def generate(self, question: str, passages: Sequence[Passage]) -> Draft:
        """Answer ``question`` from ``passages`` only, or abstain."""

    def stream(self, question: str, passages: Sequence[Passage], on_token: Callable[[str], None]) -> Draft:
        """Like ``generate``, calling ``on_token`` with text as it is produced (default: none)."""
        return self.generate(question, passages)

    def condense(self, follow_up: str, previous: str, rewritten: str) -> str | None:
        """A follow-up rewritten as a standalone question from the previous one, or None to keep the
        offline rewrite ``rewritten`` (default: keep it)."""
        return None

    def abstain(self, reason: str = "") -> Draft:
        return Draft((), abstained=True, warnings=(reason,) if reason else ())
