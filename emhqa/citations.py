"""Citation markers and spans: the one place that writes, reads and verifies them.

An answer is its claims, each followed by a marker ``[n]`` naming a ``Citation`` whose quote is the
corpus file's text at its offsets. A model's reply cites passages the same way (``[2]``, ``[1, 3]``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .types import Answer, Chunk, Citation, Claim, Draft, Passage, Span, page_at

# A model's reply: "[2]" or "[1, 3]" after a sentence cites the given passages by number.
_REPLY_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# A run of markers written after the full stop belongs to the sentence before it.
_TRAILING_MARKERS = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")


def marker(number: int) -> str:
    """How an answer names its citation ``number``."""
    return f"[{number}]"


def location(citation: Citation, dash: str = "-") -> str:
    """Where a citation's quote is in its file: "characters s-e", after "page n, " for a PDF's."""
    page = f"page {citation.page}, " if citation.page is not None else ""
    return f"{page}characters {citation.start}{dash}{citation.end}"


# -- an answer's citations ---------------------------------------------------------------------


def verified_support(claim: Claim, passages: Sequence[Passage], texts: dict[str, str]) -> tuple[Chunk, Span] | None:
    """The retrieved chunk holding the claim's support, and the support, when the support lies inside
    it and is verbatim in the corpus file at its offsets; None otherwise."""
    span = claim.support
    if span is None or claim.passage is None or not 0 <= claim.passage < len(passages):
        return None
    chunk = passages[claim.passage].chunk
    inside = 0 <= chunk.start <= span.start < span.end <= chunk.end
    return (chunk, span) if inside and texts.get(chunk.source, "")[span.start:span.end] == span.text else None


@dataclass(frozen=True)
class Cited:
    """A draft with its verified claims numbered: the answer text, its citations, and how many claims
    were left out because their support failed verification."""

    text: str
    citations: tuple[Citation, ...]
    removed: int

    def warning(self) -> str | None:
        """What the answer says about the claims left out, when there are any."""
        if not self.removed:
            return None
        return (f"{self.removed} sentence(s) were left out: their quotes are not in the corpus files as indexed. "
                "Run `emhqa index --rebuild` if this persists.")


def cite(draft: Draft, passages: Sequence[Passage], texts: dict[str, str],
         pages: Mapping[str, Sequence[int]] | None = None) -> Cited:
    """Number the draft's verified claims; a claim whose support is outside its retrieved passage, or
    not verbatim in the corpus file, is left out of the answer. Adjacent sentences of one passage
    share one citation, and a quote cited again keeps its number. ``pages``: where each page of a
    PDF's text starts (source -> offsets), so that its citations name the page of their quote."""
    pages = pages or {}
    citations: list[Citation] = []
    parts: list[tuple[str, int]] = []  # (claim text, its citation's number)
    removed = 0
    for claim in draft.claims:
        verified = verified_support(claim, passages, texts)
        if verified is None:
            removed += 1
            continue
        chunk, span = verified
        repeated = next((c for c in citations if c.source == chunk.source and c.start <= span.start
                         and span.end <= c.end), None)
        if repeated:  # the same quote supports a second sentence: reuse its number
            parts.append((claim.text, repeated.marker))
            continue
        previous = citations[-1] if citations else None
        text = texts[chunk.source]
        if previous and previous.source == chunk.source and previous.section == chunk.section \
                and previous.end <= span.start and not text[previous.end:span.start].strip():
            citations[-1] = replace(previous, quote=text[previous.start:span.end], end=span.end)
            parts[-1] = (f"{parts[-1][0]} {claim.text}", previous.marker)
            continue
        number = len(citations) + 1
        citations.append(Citation(number, chunk.source, chunk.section, span.text, span.start, span.end,
                                  page_at(pages.get(chunk.source, ()), span.start)))
        parts.append((claim.text, number))
    return Cited(" ".join(f"{claim} {marker(number)}" for claim, number in parts), tuple(citations), removed)


def _answer_markers(answer: Answer) -> str:
    """A pattern for the answer's own citation markers; corpus text may hold bracketed numbers of
    its own ("[19]"), which are answer text."""
    return r"\[(" + "|".join(str(c.marker) for c in answer.citations) + r")\](?!\S)"


def without_markers(answer: Answer) -> str:
    """The answer text without its citation markers."""
    return re.sub(r"\s*" + _answer_markers(answer), "", answer.text) if answer.citations else answer.text


def cited_claims(answer: Answer) -> list[tuple[str, int]]:
    """The answer's claims as (text before a marker, the marker's number), in order."""
    if not answer.citations:
        return []
    return [(text, int(number)) for text, number in re.findall(r"(.+?)\s*" + _answer_markers(answer), answer.text)]


# -- a model's reply ---------------------------------------------------------------------------


def markers_before_stops(reply: str) -> str:
    """The reply with each run of markers written after a full stop moved before it."""
    return _TRAILING_MARKERS.sub(lambda m: m.group(2) + m.group(1), reply)


def cited_passages(sentence: str) -> list[int]:
    """The passage numbers a sentence of a reply cites, as written (``[1, 3]`` is 1 and 3)."""
    return [int(n) for group in _REPLY_MARKERS.findall(sentence) for n in group.split(",")]


def without_reply_markers(sentence: str) -> str:
    """A sentence of a reply without its markers."""
    return _REPLY_MARKERS.sub("", sentence)
