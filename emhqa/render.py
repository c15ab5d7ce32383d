"""Text for Streamlit Markdown that shows corpus and answer text literally: nothing is interpreted."""
from __future__ import annotations

import re

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all also
# defuses Streamlit's own syntax (":red[...]", "$math$") and any HTML tag.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders as exactly ``text`` (runs of white space aside)."""
    return _PUNCTUATION.sub(r"\\\1", text)


def highlighted(before: str, quote: str, after: str) -> str:
    """The section text, escaped, with the quoted span highlighted."""
    def block(text: str) -> str:
        return escape_markdown(" ".join(text.split()))

    marked = f":orange-background[{block(quote)}]" if quote.strip() else ""
    return " ".join(part for part in (block(before), marked, block(after)) if part)
