"""The generator contract: a question and its retrieved passages in, a cited draft out."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..types import Passage, Span


@dataclass(frozen=True)
class Claim:
    """One piece of answer text and the corpus span that supports it (None: no support shown)."""

    text: str
    passage: int | None = None
    support: Span | None = None


@dataclass(frozen=True)
class Draft:
    """A generator's answer before citations are numbered and verified by the pipeline."""

    claims: tuple[Claim, ...]
    abstained: bool = False
    warnings: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()  # generated sentences dropped because no passage supports them


class Generator(ABC):
    """Subclasses implement ``generate`` (and ``stream`` when they can); the pipeline numbers and
    verifies the citations."""

    name: str = "generator"

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
