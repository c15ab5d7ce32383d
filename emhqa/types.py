"""The frozen records that flow through the pipeline: sections, chunks, passages, citations, answers."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Span:
    """A verbatim piece of a corpus file: ``text == file_text[start:end]``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Section:
    """A titled part of one corpus file, already split into sentence spans (junk left out)."""

    source: str
    title: str
    sentences: tuple[Span, ...]

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end


@dataclass(frozen=True)
class Chunk:
    """Consecutive sentences of one section; ``text`` is the file span ``[start, end)``."""

    id: int
    source: str
    section: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]

    @property
    def embed_text(self) -> str:
        """What the embedder and BM25 see: the section title gives the chunk its context."""
        return f"{self.section}: {self.text}"


@dataclass(frozen=True)
class Passage:
    """A chunk retrieved for a question, with its fused score and the signals behind it."""

    chunk: Chunk
    score: float
    dense_score: float
    lexical_score: float

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.chunk.source, "section": self.chunk.section,
                "text": self.chunk.text, "score": round(self.score, 6)}


def page_at(pages: Sequence[int], offset: int) -> int | None:
    """The page (from 1) holding ``offset`` of a text whose pages start at ``pages``; None without pages."""
    return bisect_right(pages, offset) if pages else None


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer; ``quote == file_text[start:end]`` of ``source``, on ``page``
    of a PDF (None for other files)."""

    marker: int
    source: str
    section: str
    quote: str
    start: int
    end: int
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """One piece of answer text and the corpus span that supports it (None: no support shown)."""

    text: str
    passage: int | None = None
    support: Span | None = None


@dataclass(frozen=True)
class Draft:
    """A generator's answer before citations are numbered and verified (``citations.cite``)."""

    claims: tuple[Claim, ...]
    abstained: bool = False
    warnings: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()  # generated sentences dropped because no passage supports them


ANSWER_SCHEMA = 2  # version of Answer.to_dict: 2 added answered_as, probability, warnings, not_covered
NOT_MEDICAL_ADVICE = ("For information only, not medical advice: decisions about a patient "
                      "belong to a qualified clinician.")
NOT_COVERED_ANSWER = "The sources in this corpus do not cover this question, so I cannot answer it."


@dataclass(frozen=True)
class AnswerDetails:
    """How ``ask()`` reached an answer: what it read the question as, how sure it was, what it left out."""

    standalone: str | None = None  # the question answered: a follow-up made standalone, else the question
    read_as: str | None = None  # ``standalone`` as analysed: shorthand spelled out, typos corrected
    case: str | None = None  # the case report the question names (answered from it only)
    generator: str | None = None
    mode: str | None = None  # the retrieval mode: hybrid, dense or lexical
    answerable_probability: float | None = None  # the abstention model's, rounded to 4 places
    features: dict[str, float] = field(default_factory=dict)  # the evidence abstention weighed
    not_covered: tuple[str, ...] = ()  # parts of the question no retrieved sentence answers
    warnings: tuple[str, ...] = ()  # for the reader: parts not covered, fallbacks, sentences left out
    unsupported: tuple[str, ...] = ()  # an LLM's sentences dropped because no passage supports them
    seconds: float = 0.0  # time ask() took


@dataclass(frozen=True)
class Answer:
    """What ``ask()`` returns; every answer, abstentions too, carries the notice."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    notice: str = NOT_MEDICAL_ADVICE
    details: AnswerDetails = field(default_factory=AnswerDetails, compare=False)

    def shows_quote(self, citation: Citation) -> bool:
        """Whether the answer text already holds the citation's quote word for word (an extractive
        answer): then a display names the source without printing the same sentences twice."""
        return " ".join(citation.quote.split()) in " ".join(self.text.split())

    @property
    def answered_as(self) -> str:
        """The question this answers: a follow-up's standalone form, else the question."""
        return self.details.standalone if self.details.standalone is not None else self.question

    @property
    def read_as(self) -> str | None:
        """The question as emhqa read it (shorthand spelled out, typos corrected) when that differs."""
        read = self.details.read_as
        return read if read and read != self.question else None

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (``schema`` counts its versions; README, "Python")."""
        return {"schema": ANSWER_SCHEMA, "question": self.question,
                "answered_as": self.answered_as, "answer": self.text,
                "abstained": self.abstained, "notice": self.notice,
                "answerable_probability": self.details.answerable_probability,
                "warnings": list(self.details.warnings),
                "not_covered": list(self.details.not_covered),
                "citations": [c.to_dict() for c in self.citations],
                "passages": [p.to_dict() for p in self.passages]}
