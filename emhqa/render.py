"""What a display shows of an answer: the cited section around a quote, and Streamlit Markdown that
shows corpus and answer text literally (nothing is interpreted)."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .types import Chunk, Citation

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all also
# defuses Streamlit's own syntax (":red[...]", "$math$") and any HTML tag.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# Streamlit's GitHub-flavoured Markdown links "http://", "https://", "www." and e-mail addresses
# found in the text after escapes are resolved, so escaping cannot stop it. An invisible WORD JOINER
# inside each such pattern (after "://"'s colon, after "www", after "@") breaks the match.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=[wW]{3})(?=\.)|(?<=@)")
WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders as exactly ``text`` (runs of white space aside), with no
    link: a URL or an e-mail address carries an invisible word joiner that stops GFM's autolinks."""
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text))


def section_context(citation: Citation, chunks: Sequence[Chunk], texts: Mapping[str, str]) -> tuple[str, str, str]:
    """The cited section's file text as (before the quote, the quote, after it)."""
    section = [c for c in chunks if c.source == citation.source and c.section == citation.section]
    text = texts[citation.source]
    start = min([c.start for c in section] + [citation.start])
    end = max([c.end for c in section] + [citation.end])
    return text[start:citation.start], text[citation.start:citation.end], text[citation.end:end]


def highlighted(before: str, quote: str, after: str) -> str:
    """The section text, escaped, with the quoted span highlighted."""
    def block(text: str) -> str:
        return escape_markdown(" ".join(text.split()))

    marked = f":orange-background[{block(quote)}]" if quote.strip() else ""
    return " ".join(part for part in (block(before), marked, block(after)) if part)
