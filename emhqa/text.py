"""Text helpers shared by the stages: line and sentence spans, tokens for lexical matching."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from collections.abc import Iterator

import Stemmer

from .config import MAX_QUESTION_CHARS
from .errors import QuestionError
from .types import Span

_BULLET = re.compile(r"^[\s\u2022\u25cf\u25aa*\-–]*(?:\d+\.\s+)?")
# A sentence ends at . ! ? followed by space and an upper-case letter, digit or opening bracket,
# unless the full stop belongs to a common abbreviation.
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[A-Z0-9])")
_ABBREVIATIONS = ("fig", "figs", "e.g", "i.e", "al", "vs", "dr", "no", "ref", "approx", "ed")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Zero-width characters split a word in two for search (U+FEFF is also the byte-order mark);
# CR (after CR LF became LF) and the Unicode line and paragraph separators end a line.
_NORMAL = {**dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00ad")),
           **{ord(c): "\n" for c in "\r\u2028\u2029"}}
_ABNORMAL = re.compile("[" + "".join(map(chr, _NORMAL)) + "]")

STOPWORDS = frozenset("""
a an and are as at be been being but by can could did do does doing for from had has have how i
if in into is it its itself may might me my of on or our should so some such than that the their
them then there these they this those to too was we were what when where which while who whom why
will with would you your yours about also any each other only own same very s t just over under
""".split())


def normal_form(text: str) -> str:
    """Text as the corpus stores it: LF line ends only, no byte-order mark, no zero-width characters."""
    text = text.replace("\r\n", "\n")
    # str.translate walks a 5 MB document for half a second even when it has none of these characters
    return text.translate(_NORMAL) if _ABNORMAL.search(text) else text


def lines(text: str, start: int = 0, end: int | None = None) -> Iterator[Span]:
    """Every line of ``text[start:end]`` with its offsets, line breaks excluded."""
    end = len(text) if end is None else end
    for match in re.finditer(r"[^\n]*", text[start:end]):
        if match.start() == match.end() and match.start() > 0 and text[start + match.start() - 1] != "\n":
            continue
        yield Span(start + match.start(), start + match.end(), match.group())


def strip_span(text: str, span: Span) -> Span | None:
    """The span without bullet markers and surrounding white space; None when nothing is left."""
    raw = text[span.start:span.end]
    lead = bullet.end() if (bullet := _BULLET.match(raw)) else 0
    body = raw[lead:]
    stripped = body.strip()
    if not stripped:
        return None
    start = span.start + lead + (len(body) - len(body.lstrip()))
    return Span(start, start + len(stripped), stripped)


def sentences(text: str, span: Span) -> list[Span]:
    """Split one line (already stripped) into sentence spans; a line is never merged with another."""
    piece = text[span.start:span.end]
    out, begin = [], 0
    for match in _SENTENCE_END.finditer(piece):
        words = piece[begin:match.start()].split()
        if words and words[-1].lower().strip("([\"'").rstrip(".") in _ABBREVIATIONS:
            continue
        if words and len(words[-1]) == 1 and words[-1].isupper():  # initials such as "G."
            continue
        out.append(Span(span.start + begin, span.start + match.end(), piece[begin:match.end()]))
        begin = match.end() + (len(piece[match.end():]) - len(piece[match.end():].lstrip()))
    if begin < len(piece):
        out.append(Span(span.start + begin, span.end, piece[begin:]))
    return out


def validate_question(question: str) -> str:
    """The question without control characters and with its white space folded (it is never quoted);
    QuestionError when it is not text, empty or too long."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QuestionError(f"the question holds {question[exc.start]!r} at character {exc.start + 1}, which is "
                            "not text (invalid UTF-8 or a lone surrogate): type it again in UTF-8") from None
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; "
                            f"the limit is {MAX_QUESTION_CHARS}. Ask a shorter question.")
    cleaned = " ".join(_CONTROL.sub(" ", question).split())
    if not cleaned:
        raise QuestionError("the question is empty: type a question about extramedullary hematopoiesis")
    return cleaned


_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def normalize_token(token: str) -> str:
    """Lower case, British to American spelling of the blood words, Snowball stem."""
    token = unicodedata.normalize("NFKC", token).lower()
    token = token.replace("haem", "hem").replace("anaem", "anem").replace("oesoph", "esoph")
    return _STEMMER.stemWord(token)


def tokens(text: str) -> list[str]:
    """Content tokens for lexical matching: normalized words and codes (T1, EMH), no stop words."""
    return [t for t in map(_content_token, _TOKEN.findall(text)) if t]


@lru_cache(maxsize=262144)
def _content_token(word: str) -> str:
    """The normalized token of one word; "" for a stop word (before or after normalizing)."""
    if word.lower() in STOPWORDS:
        return ""
    token = normalize_token(word)
    return "" if token in STOPWORDS else token


_PARENTHESIZED = re.compile(r"\(([A-Z][A-Z0-9]{1,7})\)")
_WORD_END = re.compile(r"[A-Za-z][\w-]*\Z")  # the part of a token that can be a word of a long form
_LOOK_BACK = 200  # characters before "(ABBR)" read for its long form: six words and more


def _words_before(text: str, end: int) -> list[str]:
    """The up to six words that end, with white space after them, at ``end`` (where "(" stands): words
    are letters first, then letters, digits, "_" or "-"; a token that is only partly such a word ends
    the run with that part."""
    before = text[max(0, end - _LOOK_BACK):end]
    if not before or not before[-1].isspace():
        return []
    words: list[str] = []
    for token in reversed(before.split()[-6:]):
        word = _WORD_END.search(token)
        if word is None:
            break
        words.insert(0, word.group())
        if word.start():
            break
    return words


def find_abbreviations(text: str) -> dict[str, str]:
    """Abbreviations the text defines as 'Long form (ABBR)', keyed by the lower-case abbreviation.
    Each "(ABBR)" is found first and the words before it are read there only: matching a pattern of
    words from every position of a long document took seconds."""
    found: dict[str, str] = {}
    for parenthesized in _PARENTHESIZED.finditer(text):
        words, abbreviation = _words_before(text, parenthesized.start()), parenthesized.group(1)
        for size in range(1, len(words) + 1):
            candidate = words[-size:]
            if candidate[0][0].upper() == abbreviation[0] and size <= len(abbreviation):
                found.setdefault(abbreviation.lower(), " ".join(candidate))
                break
    return found


def expand_abbreviations(question: str, abbreviations: dict[str, str]) -> str:
    """The question with the long forms of the corpus-defined abbreviations it uses appended."""
    used = []
    for word in _TOKEN.findall(question):
        long_form = abbreviations.get(word.lower())
        if long_form and long_form.lower() not in question.lower() and long_form not in used:
            used.append(long_form)
    return f"{question} ({'; '.join(used)})" if used else question
