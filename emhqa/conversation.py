"""Follow-up questions made standalone from the conversation so far: offline and deterministic.

In a chat, a follow-up leans on the turn before it: "and the chest x-ray?", "what were his symptoms?",
"what about the other case?", "is that typical?". Before retrieval, ``Condenser.standalone`` rewrites it
into a question that stands alone, from the previous turn's standalone question (README, "Conversations"):
- **the case in focus**: a follow-up that refers to a patient ("his", "the patient") or says nothing of
  a case is asked about the previous turn's case report; "the other case/patient" switches to the other one;
- **ellipsis**: "and X?" / "what about X?" is the previous question with X in place of its words most like X
  (by the embedding model: "CT" gives way to "chest x-ray"); when nothing there is like X, "What about X?";
- **a pronoun and little else** ("why?", "is that typical?", "how is it treated?") is asked together with
  the previous question, and so is any follow-up the corpus cannot answer as it stands
  (``in_context``: "does it happen in the brain?" after "Where does EMH occur?").
A question that stands alone (names its own case or document, or has no pronoun and no leading "and" or
"what about") is left as it is, so the history never changes what a standalone question that the corpus
answers retrieves.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .citations import location, marker
from .index import IndexedDocument
from .query import (ABOUT, ASKING_WORDS, CASE_WORDS, DOCUMENT_REFERENCE, LEADING_PREPOSITION, PATIENT_WORDS,
                    QUESTION_WORDS, QueryAnalyzer, drop_words)
from .text import tokens
from .types import Answer

_ELLIPSIS = re.compile(r"^\W*(?:(?:and|but|so|ok(?:ay)?)\W+)?(?:(?:what|how)\s+about|and)\s+"
                       r"(?P<rest>(?!(?:" + QUESTION_WORDS + r"|would)\b).+?)[\s?.!]*$", re.IGNORECASE)
# A fragment: a few words with no question word or verb first ("calcified?", "any unusual organs?").
_FRAGMENT = re.compile(r"^\W*(?P<rest>(?!(?:" + QUESTION_WORDS + r"|would|tell|explain|describe|list|define)\b)"
                       r"(?:[\w'-]+\s*){1,4}?)[\s?.!]*$", re.IGNORECASE)
_OTHER = re.compile(r"\b(?:in|for|of|with)?\s*(?:the\s+)?other\s+(?:case|patient|one|report|man|guy|person)\b",
                    re.IGNORECASE)
_PATIENT = re.compile(r"\b(?:he|him|his|she|her|hers|the\s+patient|this\s+patient|that\s+patient|the\s+case)\b",
                      re.IGNORECASE)
_PRONOUN = re.compile(r"\b(?:it|its|this|that|these|those|they|them|their|there|why)\b", re.IGNORECASE)
_DETERMINER = re.compile(r"^(?:the|a|an|his|her|its|their)\s+", re.IGNORECASE)
_OPENING_PREPOSITION = re.compile("^" + LEADING_PREPOSITION, re.IGNORECASE)
_CLOSING_PREPOSITION = re.compile(r"(?<!\S)" + LEADING_PREPOSITION + "$", re.IGNORECASE)
_WORDS = re.compile(r"[\w][\w'-]*")
# A word that can stand between a determiner and its noun ("his *chest* x-ray"), not a preposition or verb.
_MODIFIER = re.compile(r"^(?!(?:of|in|on|at|to|for|with|by|from|and|or|did|does|do|was|were|is|are|show|shows)$)"
                       r"[\w'-]+$", re.IGNORECASE)
# What ``standalone`` adds to a question, taken off again before the next turn builds on it.
_ADDED = re.compile(r",\s+about:\s.*$")
# The "'s" left when the words before it were dropped ("the [23 year old]'s ribs").
_ORPHAN_POSSESSIVE = re.compile(r"(?<!\S)['\u2019]s\b\s*")
# Function words left at the end of a clause once the words after them are dropped ("with [severe anemia]?").
_TRAILING = re.compile(r"\s+(?:with|of|in|for|from|the|a|an|and)(?=\s*(?:[,?.!]|$))", re.IGNORECASE)


def _drop(text: str, unwanted: frozenset[str]) -> str:
    """``text`` without the words whose tokens are all unwanted, and the function words left trailing."""
    kept = _ORPHAN_POSSESSIVE.sub("", drop_words(text, unwanted))
    while _TRAILING.search(kept):
        kept = _TRAILING.sub("", kept)
    return kept


def _core(question: str) -> str:
    """A standalone question without what ``standalone`` added to it (case reference, "about: ...")."""
    question = DOCUMENT_REFERENCE.sub("", question)
    while _ADDED.search(question):
        question = _ADDED.sub("", question)
    return question.strip()


@dataclass(frozen=True)
class Turn:
    """One exchange: the question as typed, the question it was answered as, and the answer."""

    question: str
    standalone: str
    answer: Answer


class Condenser:
    """Rewrites a follow-up into a standalone question from the previous standalone question."""

    def __init__(self, analyzer: QueryAnalyzer, encoder, documents: Sequence[IndexedDocument], similar: float = 0.25):
        self.analyzer, self.encoder, self.similar = analyzer, encoder, similar
        self.names = {d.source: self._name(d.title) for d in documents}
        self.cases = [d.source for d in documents if d.kind == "case"]

    def standalone(self, question: str, previous: str | None) -> str:
        """``question`` as a question that stands alone, given the previous turn's standalone question."""
        if not previous:
            return question
        named = self.analyzer.analyze(question).document
        ellipsis = _ELLIPSIS.match(question) or _FRAGMENT.match(question)
        if named and not (ellipsis or _PRONOUN.search(question)):
            return question  # names its own case or document and asks in full
        before = self.analyzer.analyze(previous).document
        previous = _core(previous)
        target = named or (self._other(before) if _OTHER.search(question) else before)
        own = self._unnamed(question, named)  # "and in the 30-year-old with beta thalassemia?" asks nothing new
        if ellipsis:
            rest = self._unnamed(_OTHER.sub(" ", ellipsis.group("rest")), named).strip(" ,")
            base = self._about(previous, before, target)
            text = self._substitute(base, rest) if self._content(rest) else base
        elif _OTHER.search(question):
            text = _OTHER.sub(" ", question)
        elif _PRONOUN.search(question) and not self._content(own) - ASKING_WORDS - CASE_WORDS:  # "why?", "is that
            # typical?": asked together with the previous question
            text = f"{own.strip().rstrip('?')}{ABOUT}{self._about(previous, before, target)}"
        elif _PATIENT.search(question) or _PRONOUN.search(question):
            text = question
        else:
            return question  # stands alone
        return self._in_case(" ".join(text.split()), target)

    def in_context(self, standalone: str, previous: str | None) -> str | None:
        """``standalone`` asked as a follow-up of ``previous``: its own words what is asked, the previous
        question (and its case) the context. None when there is no previous turn or it already is one."""
        if not previous or ABOUT in standalone:
            return None
        before = self.analyzer.analyze(previous).document
        target = self.analyzer.analyze(standalone).document or before
        text = f"{_core(standalone).rstrip(' ?.')}{ABOUT}{self._about(_core(previous), before, target)}"
        return self._in_case(text, target)

    def _name(self, title: str) -> str:
        """A document's title without the corpus topic ("IS Case 4", "Case report: a 23-year-old")."""
        return _drop(title, self.analyzer.topic).strip(" :,()") or title

    def _other(self, case: str | None) -> str | None:
        """The other case report when there are exactly two (else the same one)."""
        others = [c for c in self.cases if c != case]
        return others[0] if case in self.cases and len(others) == 1 else case

    def _about(self, previous: str, before: str | None, target: str | None) -> str:
        """The previous question, with the words that named its case (its title and age among them) taken
        out when the case changes."""
        if before is None or before == target:
            return previous
        untitled = re.sub(rf"\b(?:the\s+)?{re.escape(self.names[before])}\b", "the case", previous,
                          flags=re.IGNORECASE)  # "in IS case 4 did ...": its title too
        return _drop(self.analyzer.without_age(untitled, before), self.analyzer.naming.get(before, frozenset()))

    def _unnamed(self, text: str, document: str | None) -> str:
        """``text`` without the words that name ``document`` (its case's identity and age, patient words)."""
        if document is None:
            return text
        naming = self.analyzer.naming.get(document, self.analyzer.titled.get(document, frozenset()))
        return _drop(self.analyzer.without_age(text, document), naming | PATIENT_WORDS)

    def _content(self, text: str) -> set[str]:
        return set(tokens(text)) - self.analyzer.topic

    def _substitute(self, base: str, rest: str) -> str:
        """``base`` with what it asks about replaced by ``rest``: its head word ("what did the *CT*
        show"), else its focus word most like ``rest``; "What about rest?" when none is alike."""
        part = self.analyzer.analyze(base).parts[0]
        spans = [m for m in _WORDS.finditer(base) if set(tokens(m.group())) & part.focus]
        heads = [m for m in spans if set(tokens(m.group())) & part.head]
        if heads:
            start, end = heads[0].start(), heads[0].end()
        elif spans:
            wanted = self.encoder.encode_query(rest)
            scores = [float(np.dot(self.encoder.encode_query(m.group()), wanted)) for m in spans]
            best = int(np.argmax(scores))
            if scores[best] < self.similar:
                return f"What about {rest}{ABOUT}{base}"
            start, end = spans[best].start(), spans[best].end()
        else:
            return f"What about {rest}{ABOUT}{base}"
        start, determiner = self._phrase_start(base, start)
        before = _CLOSING_PREPOSITION.search(base[:start])
        if _OPENING_PREPOSITION.match(rest) and before:  # "and in the chest?" for "in the body", not for "body"
            start = before.start()
        else:
            rest = _OPENING_PREPOSITION.sub("", rest)  # "and on MRI?": "what did MRI show", not "did on MRI"
            if determiner and not _DETERMINER.match(rest):
                rest = f"{determiner} {rest}"
        return f"{base[:start]}{rest}{base[end:]}"

    @staticmethod
    def _phrase_start(base: str, start: int) -> tuple[int, str]:
        """Where the noun phrase of the word at ``start`` begins, and its determiner: "his chest x-ray"
        gives way to "the CT" as a whole, not as "his chest the CT" ("": no determiner before it or one
        modifier before it)."""
        words = list(re.finditer(r"\S+", base[:start]))[-2:]
        for n in range(len(words) - 1, -1, -1):
            if _DETERMINER.match(words[n].group() + " "):
                if all(_MODIFIER.match(w.group()) for w in words[n + 1:]):
                    return words[n].start(), words[n].group()
                break
        return start, ""

    def _in_case(self, text: str, document: str | None) -> str:
        """``text`` naming ``document`` when it does not already (by its title without the topic)."""
        if document is None or self.analyzer.analyze(text).document == document:
            return text
        where = "In the case report" if document in self.cases else "According to the"
        return f"{where} “{self.names[document]}”. {text.rstrip(' ?.')}?"  # a statement: context, not focus


class Asking(Protocol):
    """What a Conversation uses of a ``pipeline.QA`` (which imports this module for its Condenser, so
    it is named by what it does, not imported)."""

    def ask(self, question: str, *, history: Sequence[Answer | str]) -> Answer: ...


@dataclass
class Conversation:
    """A chat with one ``QA``: each question is answered as its standalone form; ``turns`` keeps them."""

    qa: Asking
    turns: list[Turn] = field(default_factory=list)

    def ask(self, question: str, **options) -> Answer:
        answer = self.qa.ask(question, history=[turn.answer for turn in self.turns[-1:]], **options)
        self.turns.append(Turn(question, answer.answered_as, answer))
        return answer

    def clear(self) -> None:
        self.turns.clear()

    def to_markdown(self, titles: dict[str, str]) -> str:
        """The conversation as Markdown (``to_markdown`` of its answers)."""
        return to_markdown([turn.answer for turn in self.turns], titles)


def to_markdown(answers: Sequence[Answer], titles: dict[str, str]) -> str:
    """A conversation as Markdown: each question, what it was answered as, the answer, and every source
    with its verbatim quote and character offsets."""
    lines = ["# emhqa conversation", ""]
    for n, answer in enumerate(answers, 1):
        lines += [f"## {n}. {answer.question}", ""]
        if answer.read_as:
            lines += [f"*Answered as:* {answer.read_as}", ""]
        lines += [answer.text, ""]
        lines += [f"- {marker(c.marker)} {titles.get(c.source, c.source)} — {c.section} ({c.source}, "
                  f"{location(c, '–')}): “{' '.join(c.quote.split())}”" for c in answer.citations]
        lines += [""] if answer.citations else []
    return "\n".join(lines + [f"*{answers[0].notice}*" if answers else "", ""])
