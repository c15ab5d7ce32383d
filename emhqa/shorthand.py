"""Clinicians' shorthand in questions, spelled out before retrieval ("45F", "ddx", "tx", "hx").

A small fixed list (README, "How it works"): only forms that are unambiguous in a question about
a radiology corpus. Abbreviations that the corpus itself defines ("EMH") are handled by
``text.find_abbreviations``; typos by ``query.QueryAnalyzer``.
"""
from __future__ import annotations

import re

SHORTHAND: dict[str, str] = {
    "ddx": "differential diagnosis", "dd": "differential diagnosis", "dx": "diagnosis",
    "tx": "treatment", "rx": "treatment", "mgmt": "management", "hx": "history",
    "pmh": "past medical history", "sx": "symptoms", "sxs": "symptoms", "bx": "biopsy",
    "pt": "patient", "pts": "patients", "cxr": "chest x-ray", "xray": "x-ray", "xrt": "radiotherapy",
    "rt": "radiotherapy", "sob": "shortness of breath", "cp": "chest pain", "mets": "metastasis",
    "dz": "disease", "w/": "with", "w/o": "without", "b/l": "bilateral", "bilat": "bilateral",
    "aka": "also known as", "thal": "thalassemia", "fna": "fine-needle aspiration",
    "yo": "year-old", "y/o": "year-old", "yr": "year", "yrs": "years",
    "abd": "abdominal", "paraspinous": "paraspinal", "ca": "cancer", "hbss": "sickle cell disease",
    "ref": "reference", "refs": "references",
}
_WORD = re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True))
                   + r")(?![\w/])", re.IGNORECASE)
# "45F", "45 yo M", "45-year-old f", "45 y/o male": an age and a sex written the short way.
_AGE_SEX = re.compile(r"\b(\d{1,3})\s*-?\s*(?:yo|y/o|y\.o\.|yrs?|years?(?:\s*-?\s*old)?|-year-old)?\s*"
                      r"(m|f|male|female)\b", re.IGNORECASE)
_SEX = {"m": "male", "f": "female"}


def expand_shorthand(question: str) -> str:
    """The question with ages, sexes and the listed shorthand written out."""
    question = _AGE_SEX.sub(lambda m: f"{m.group(1)}-year-old {_SEX.get(m.group(2).lower(), m.group(2).lower())}",
                            question)
    return _WORD.sub(lambda m: SHORTHAND[m.group(1).lower()], question)
