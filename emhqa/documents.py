"""PDF and HTML files -> the text the corpus stores and indexes (Markdown: ``#`` headings as sections).

A PDF's text layer is read with pdfplumber (lines in reading order, with their position and font
size): lines larger than the body text are headings; lines in the top or bottom margin that repeat on
other pages (digits aside) and page numbers are running headers and footers, left out; a word broken
by a hyphen at a line end is joined. ``Converted.pages`` says where each page starts in the text.
An HTML page's main content is found by trafilatura (navigation, footers, asides left out), its
``<h1>``-``<h4>`` kept as headings. README, "Adding documents", says why these two libraries.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from .errors import CorpusError
from .parsers import is_markdown
from .text import normal_form

STORED_SUFFIX = ".md"  # the stored text of ``report.pdf`` is ``report.md``
MARGIN = 0.1  # a running header or footer lies in the top or bottom tenth of the page
HEADING_RATIO = 1.15  # a heading's font is this much larger than the body text's
MIN_CONTENT_WORDS = 20  # a page with fewer words of text (headings aside) has no main content
_PAGE_NUMBER = re.compile(r"(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?", re.IGNORECASE)
_BROKEN_WORD = re.compile(r"[^\W\d_]-$")  # a line ending in a letter and a hyphen


@dataclass(frozen=True)
class Converted:
    """The text to store for a PDF or HTML file; ``pages[n]`` is where page n + 1 starts in it."""

    text: str
    pages: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Line:
    text: str
    page: int
    size: float  # the font size most of its characters have
    top: float  # position as a fraction of the page height (0: top)
    bottom: float


def convert(data: bytes, suffix: str, title: str) -> Converted:
    """The stored form of a PDF (``.pdf``) or HTML (``.html``, ``.htm``) file's bytes; CorpusError with
    the fix when it has no usable text. A document without headings is put under ``title``, so that it
    is one section."""
    readers = {".pdf": from_pdf, ".html": from_html, ".htm": from_html}
    converted = readers[suffix.lower()](data)
    if is_markdown(converted.text):
        return converted
    heading = f"# {' '.join(title.split())}\n\n"
    return Converted(heading + converted.text, tuple(start and start + len(heading) for start in converted.pages))


def converts(suffix: str) -> bool:
    """Whether files with this suffix are converted (PDF, HTML) rather than stored as they are."""
    return suffix.lower() in (".pdf", ".html", ".htm")


def _pdf_lines(data: bytes) -> list[_Line]:
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            return [_Line(normal_form(unicodedata.normalize("NFKC", line["text"])).strip(), number,
                          Counter(round(c["size"], 1) for c in line["chars"]).most_common(1)[0][0],
                          line["top"] / page.height, line["bottom"] / page.height)
                    for number, page in enumerate(pdf.pages)
                    for line in page.extract_text_lines(return_chars=True) if line["text"].strip()]
    except Exception as exc:  # pdfplumber wraps pdfminer's errors, which are of many kinds
        if any(isinstance(error, PDFPasswordIncorrect) for error in (exc, *exc.args)):
            raise CorpusError("the PDF is encrypted: save a copy without a password (print it to PDF) "
                              "and add that") from exc
        raise CorpusError(f"not a readable PDF ({str(exc) or type(exc).__name__}): export it again from "
                          "the original, or save its text as a .md file") from exc


def _running(lines: list[_Line]) -> list[bool]:
    """For each line, whether it is a running header or footer: a line in the top or bottom margin
    that is a page number or repeats (digits aside) on another page."""
    def key(line: _Line) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    in_margin = [line.top < MARGIN or line.bottom > 1 - MARGIN for line in lines]
    pages_of: dict[str, set[int]] = defaultdict(set)
    for line, margin in zip(lines, in_margin):
        if margin:
            pages_of[key(line)].add(line.page)
    return [margin and (_PAGE_NUMBER.fullmatch(line.text) is not None or len(pages_of[key(line)]) > 1)
            for line, margin in zip(lines, in_margin)]


def from_pdf(data: bytes) -> Converted:
    """A PDF's text layer as Markdown, with the offset where each page starts."""
    lines = _pdf_lines(data)
    body = [line for line, running in zip(lines, _running(lines)) if not running]
    if not body:
        raise CorpusError("the PDF has no text layer (a scan?): run OCR on it first (for example "
                          "`ocrmypdf in.pdf out.pdf`) and add the result")
    body_size = Counter(line.size for line in body for _ in line.text).most_common(1)[0][0]
    largest = max(line.size for line in body)
    text = ""
    first_offset: dict[int, int] = {}  # page -> where its first line starts in text
    previous: _Line | None = None
    for line in body:
        heading = line.size >= body_size * HEADING_RATIO
        after_heading = previous is not None and previous.size >= body_size * HEADING_RATIO
        if previous is None:
            separator = ""
        elif heading and after_heading and previous.size == line.size and previous.page == line.page:
            separator = " "  # a heading wrapped over two lines
        elif heading or after_heading or (previous.page == line.page and
                                          line.top - previous.bottom > 0.8 * (line.bottom - line.top)):
            separator = "\n\n"  # a heading, or a paragraph after a gap
        elif _BROKEN_WORD.search(text) and line.text[:1].islower():
            text, separator = text[:-1], ""  # hyphenation at the line end: the word joined
        else:
            separator = " "
        if heading and separator != " ":
            separator += "# " if line.size == largest else "## "
        text += separator
        first_offset.setdefault(line.page, len(text))
        text += line.text
        previous = line
    starts, start = [], len(text)
    for page in reversed(range(lines[-1].page + 1)):  # a page without body text starts where the next does
        start = 0 if page == 0 else first_offset.get(page, start)
        starts.append(start)
    return Converted(text + "\n", tuple(reversed(starts)))


def from_html(data: bytes) -> Converted:
    """An HTML page's main content as Markdown (headings kept, paragraphs on one line each)."""
    import trafilatura

    extracted: Any = trafilatura.extract(data, output_format="markdown", include_formatting=True,
                                         favor_recall=True, include_comments=False, include_links=False,
                                         include_images=False)
    paragraphs = [" ".join(part.split()) for part in re.split(r"\n\s*\n", normal_form(extracted or ""))]
    if sum(len(p.split()) for p in paragraphs if not p.startswith("#")) < MIN_CONTENT_WORDS:
        raise CorpusError("no main content found in the page: save the article's own page (not an index "
                          "or a search page), or copy its text into a .md file")
    return Converted("\n\n".join(p for p in paragraphs if p) + "\n")
