"""Kind-aware parsers: the raw text of one corpus file -> titled sections of verbatim sentence spans.

Each parser leaves the file untouched and only chooses spans: site boilerplate, paywall lines,
contact blocks and the repeated outline block are simply never selected.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .text import lines, sentences, strip_span
from .types import Section, Span

_JUNK = re.compile(
    r"log in or subscribe|^Loading\.\.\.$|^\d+$|^Go to top$|^end faq\w*$|^\d+ images?$"
    r"|^(Siehe auch|und weiter):?$", re.IGNORECASE)
_CONTACT = re.compile(r"^(Name|Family|Affiliation|E-?mail|Academic Degree|Resident|Phone|Tel)\s*:",
                      re.IGNORECASE)
_REFERENCE = re.compile(r"\[edited by\]|\bet al\b|PMID|\bdoi\b|\bed$|^[A-Z][\w-]+ [A-Z]{1,3}[,.:]")
_PRESENTATION = re.compile(r"\b\d+[- ]years?[- ]old\b|\bpresents?\b|\bhistory\b", re.IGNORECASE)
# The labels of sections that have no heading of their own; every other label is written in the file
# (a heading, or an upper-case line that the label capitalizes).
INTRODUCTION, HISTORY, FINDINGS, DISCUSSION, REFERENCES = GENERIC_TITLES = (
    "Introduction", "History", "Findings", "Discussion", "References")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ question with its answer span, or ``answer=None`` when the page leaves it unanswered."""

    question: Span
    answer: Span | None


Paragraph = list[Span]  # consecutive non-blank lines, each stripped of bullets and white space


def _content_lines(text: str, start: int = 0, end: int | None = None) -> list[Span | None]:
    """Every line of ``text[start:end]`` stripped, with None for blank lines and for junk lines."""
    out: list[Span | None] = []
    for line in lines(text, start, end):
        span = strip_span(text, line)
        out.append(None if span is None or _JUNK.search(span.text) else span)
    return out


def _groups(text: str) -> list[list[Paragraph]]:
    """Paragraphs (split at one blank line) gathered into groups (split at two or more)."""
    groups: list[list[Paragraph]] = [[]]
    paragraph: Paragraph = []
    blanks = 0
    for span in _content_lines(text) + [None, None]:
        if span is None:
            blanks += 1
            if paragraph:
                groups[-1].append(paragraph)
                paragraph = []
            continue
        if blanks >= 2 and groups[-1]:
            groups.append([])
        blanks = 0
        paragraph.append(span)
    return [group for group in groups if group]


def _is_heading(paragraph: Paragraph) -> bool:
    line = paragraph[0].text
    return (len(paragraph) == 1 and len(line.split()) <= 6 and not line.endswith((".", "?", "!", ":"))
            and not any(ch.isdigit() for ch in line))


def _is_dangling_intro(paragraph: Paragraph) -> bool:
    """A lone line that announces a list the page lost, e.g. 'please refer to the articles on:'."""
    return len(paragraph) == 1 and paragraph[0].text.endswith(":")


def _section(text: str, source: str, title: str, spans: list[Span], split: bool = True) -> Section | None:
    units = [s for span in spans for s in (sentences(text, span) if split else [span])]
    return Section(source, title, tuple(units)) if units else None


def faq_entries(text: str) -> list[FaqEntry]:
    """Every question of an FAQ page, answered or not, in page order."""
    entries: list[FaqEntry] = []
    pending: Span | None = None
    answer: list[Span] = []

    def close() -> None:
        if pending is not None:
            entries.append(FaqEntry(pending, Span(answer[0].start, answer[-1].end,
                                                  text[answer[0].start:answer[-1].end]) if answer else None))

    for span in _content_lines(text):
        if span is None:
            continue
        if span.text.endswith("?") and len(span.text) < 200:
            close()
            pending, answer = span, []
        elif pending is not None:
            answer.append(span)
    close()
    return entries


def parse_faq(text: str, source: str) -> list[Section]:
    sections = []
    for entry in faq_entries(text):
        if entry.answer is not None:
            lines_in_answer = [s for s in _content_lines(text, entry.answer.start, entry.answer.end) if s]
            sections.append(_section(text, source, entry.question.text, lines_in_answer))
    return [s for s in sections if s]


def parse_article(text: str, source: str) -> list[Section]:
    """Intro paragraphs, then one section per heading; the first line is the page title."""
    paragraphs = [p for group in _groups(text) for p in group][1:]
    sections: list[Section | None] = []
    title = INTRODUCTION
    body: list[Span] = []
    for paragraph in paragraphs:
        if _is_heading(paragraph):
            sections.append(_section(text, source, title, body))
            title, body = paragraph[0].text, []
        elif not _is_dangling_intro(paragraph):
            body.extend(paragraph)
    sections.append(_section(text, source, title, body))
    return [s for s in sections if s]


def parse_case(text: str, source: str) -> list[Section]:
    """One section per heading; unheaded blocks are named History, Findings, Discussion or References."""
    sections: list[Section | None] = []
    previous = ""
    for group in _groups(text)[1:]:  # the first group is the title and author front matter
        spans = [span for paragraph in group for span in paragraph]
        if len(group) > 1 and _is_heading(group[0]):
            title, spans = group[0][0].text, spans[1:]
            if any(_CONTACT.match(span.text) for span in spans):
                continue  # author contact block: not answer material
        elif all(_REFERENCE.search(span.text) for span in spans):
            title = REFERENCES
        elif previous != HISTORY and not any(s and s.title == HISTORY for s in sections) \
                and _PRESENTATION.search(" ".join(span.text for span in spans)):
            title = HISTORY
        elif previous == HISTORY:
            title = FINDINGS
        else:
            title = DISCUSSION
        sections.append(_section(text, source, title, spans, split=title != REFERENCES))
        previous = title
    return [s for s in sections if s]


def _is_outline_heading(line: str) -> bool:
    words = line.split()
    if not 1 <= len(words) <= 5 or any(ch.isdigit() or ch in "():;," for ch in line):
        return False
    return line.isupper() or all(w[0].isupper() for w in words if len(w) >= 4)


def _without_repeats(spans: list[Span], min_run: int = 5) -> list[Span]:
    """Drop any run of at least ``min_run`` lines that repeats an earlier run word for word."""
    kept: list[Span] = []
    i = 0
    while i < len(spans):
        run = 0
        for j, earlier in enumerate(kept):
            if earlier.text == spans[i].text:
                m = 0
                while j + m < len(kept) and i + m < len(spans) and kept[j + m].text == spans[i + m].text:
                    m += 1
                run = max(run, m)
        if run >= min_run:
            i += run
        else:
            kept.append(spans[i])
            i += 1
    return kept


def parse_outline(text: str, source: str) -> list[Section]:
    """Reference-book outline: one section per upper-case heading (its Title Case sub-headings are
    labels inside it), and the reference list on its own; one line per fact."""
    spans = _without_repeats([s for s in _content_lines(text) if s is not None])
    sections: list[Section | None] = []
    title: str | None = None
    body: list[Span] = []

    def close() -> None:
        if title is not None and body:
            sections.append(_section(text, source, title, body, split=False))

    for span in spans:
        if not _is_outline_heading(span.text):
            if title is not None:
                body.append(span)
        elif span.text.isupper() or "reference" in span.text.lower():
            close()
            title, body = span.text.capitalize() if span.text.isupper() else span.text, []
    close()
    return [s for s in sections if s]


_MARKDOWN_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def is_markdown(text: str) -> bool:
    """A file a user wrote in Markdown: it has at least one ``#`` heading line."""
    return _MARKDOWN_HEADING.search(text) is not None


def parse_markdown(text: str, source: str) -> list[Section]:
    """One section per Markdown heading, titled by it (an FAQ question, a case-report part)."""
    headings = list(_MARKDOWN_HEADING.finditer(text))
    sections = []
    for number, heading in enumerate(headings):
        end = headings[number + 1].start() if number + 1 < len(headings) else len(text)
        body = [span for span in _content_lines(text, heading.end(), end) if span]
        sections.append(_section(text, source, heading.group(2), body))
    return [s for s in sections if s]


def parse(kind: str, text: str, source: str) -> list[Section]:
    """Sections of one file: by its Markdown headings when it has them, else by its kind's parser."""
    return parse_markdown(text, source) if is_markdown(text) else PARSERS[kind](text, source)


PARSERS: dict[str, Callable[[str, str], list[Section]]] = {
    "faq": parse_faq, "article": parse_article, "case": parse_case, "outline": parse_outline,
}
