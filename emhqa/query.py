"""What a question asks: shorthand spelled out, typos corrected, split into its parts, each part's
*focus* (what is asked) told apart from its *context* (the corpus topic and the case it names).

Everything here is derived from the index, so a new document brings its own vocabulary, topic and
case identity:
- the **topic** is the words every document title shares ("extramedullary hematopoiesis") and the
  abbreviations the corpus defines for them (EMH): in a single-topic corpus they say nothing about
  which sentence answers;
- a **case identity** is a case report's title, publisher and presentation sections (History,
  Clinical Summary, Patient's Information): the words a user names a patient by ("the 30-year-old
  with beta thalassemia", "the URMC case");
- a question **names a case** when it refers to a patient and uses identity words of exactly one
  case report; it **names another document** by a word of that document's title or kind that no other
  title has, after "the" ("according to the outline", "the FAQ");
- a part's **head** is the word right after "what"/"which" (its auxiliaries and articles skipped), or
  the closing participle of "how is X treated?": the kind of answer asked for; a part that asks "how
  many", a dose, a level or a rate asks for a **quantity**.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import fuzz, process

from .index import Index, IndexedDocument
from .shorthand import expand_shorthand
from .text import expand_abbreviations, find_abbreviations, tokens

IDENTITY_SECTIONS = frozenset({"history", "clinical summary", "patient's information", "patient information",
                               "presentation", "case section"})
# Words that refer to one patient (not "patients": "thalassemia patients" are patients in general).
_PATIENT_NOUNS = "patient case man male guy gentleman boy woman female lady girl".split()
_ONE_PATIENT = _PATIENT_NOUNS + "he his him she her".split()
_PATIENT = re.compile(r"\b(" + "|".join(_ONE_PATIENT) + r"|year-old|years? old)\b", re.IGNORECASE)
# Where one question asks two things: "What causes it, and how is it treated?", "... ? And ...".
QUESTION_WORDS = "what|how|why|when|where|which|who|whose|is|are|was|were|does|do|did|can|could|should|will|has|have"
_QUESTION_WORD = f"(?:{QUESTION_WORDS})"
LEADING_PREPOSITION = r"(?:(?:at|in|on|for|from|to|by|with|of|during|after|before|under|below|above|within|into)\s+)"
_PART_BREAK = re.compile(r"\?\s+(?=\S)|;\s*|,?\s+(?:and|&|plus|also)\s+(?=" + LEADING_PREPOSITION + "?"
                         + _QUESTION_WORD + r"\b)", re.IGNORECASE)
# A piece that asks: it ends with "?" or opens with a question word, after a preposition or not ("at what
# level ...", "in which organs ..."), or a request ("tell me", "list"); or its clause after a leading phrase
# does ("In the URMC case, what was ...").
_ASKS = re.compile(r"\?\s*$|^(?:[^,?]*,)?\W*" + LEADING_PREPOSITION + "?"
                   r"(?:" + QUESTION_WORDS + r"|tell|explain|describe|list|define|name|give)\b", re.IGNORECASE)
# How a follow-up's rewrite (``conversation.Condenser``) adds the earlier question it is about: the words
# before it ask ("how would you treat that"), the words after it are context, unless nothing is asked before
# it ("why, about: ...").
ABOUT = ", about: "
# How it names the case or document a follow-up is about: "In the case report “IS Case 4”. what were his symptoms?"
DOCUMENT_REFERENCE = re.compile(r"^(?:In the case report|According to the) “[^”]*”\.\s+")
# Words that ask rather than say what is asked about.
ASKING_WORDS = frozenset(tokens("tell explain describe know please like mean meant typical usual usually according "
                                "say says said mention mentions state states report term"))
PATIENT_WORDS = frozenset(tokens(" ".join(_ONE_PATIENT) + " year old"))
# Function words the tokenizer keeps (its stop list is short, for search): prepositions, particles,
# determiners, pronouns, contractions and adverbs of degree or time, from scikit-learn's English stop words
# less the content words it lists (show, found, back, side, thin, system, often, numbers ...) and those
# whose stem is a content word's ("several" of "severe", "us" of US). They stay in the focus ("the *most*
# common finding"), but never are its most specific word: "whose" in "How old was the patient whose case
# was filed under the musculoskeletal system?" (``Evidence``'s number check).
FUNCTION_WORDS = frozenset(tokens("above across after afterwards again against all almost alone along already although "
                                  "always among amongst another anyhow anyone anything anyway anywhere around became "
                                  "become becomes becoming beforehand behind below beside besides beyond both cannot "
                                  "either else elsewhere enough etc even ever every everyone everything everywhere except "
                                  "few former formerly further get hence here hereby herein however indeed latter "
                                  "latterly least less many meanwhile more moreover most mostly much must neither "
                                  "never nevertheless next no nobody none noone nor not nothing now nowhere off once "
                                  "onto others otherwise perhaps please rather seem seemed seeming seems since "
                                  "somehow someone something sometime sometimes somewhere still thence thereafter thereby "
                                  "therefore therein thereupon though through throughout thru thus together toward towards "
                                  "until up upon via well whatever whence whenever whereas whereby wherein whereupon "
                                  "wherever whether whither whoever whole whose within yet actually really basically "
                                  "exactly anybody somebody kind sort apart aside near inside beneath underneath "
                                  "isn aren wasn weren hasn haven hadn doesn don didn won wouldn shouldn couldn"))
# Words of any case's presentation that name no case in particular (nor say what is asked of it).
CASE_WORDS = frozenset(tokens("case report history clinical summary patient information presentation present "
                            "gender age year old years man male woman female he his him she her system"))
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
# "the reference-book outline", "this FAQ", 'the “outline”': a determiner and up to three words that may
# name a document (the follow-up rewrite quotes the title it carries).
_NAMED = re.compile(r"\b(?:the|this|that|your)\s+[\"\u201c\u2018']?((?:[\w-]+\s+){0,2}[\w-]+)", re.IGNORECASE)
_SKIPPED = r"(?:is|are|was|were|does|do|did|can|could|would|should|kind|kinds|type|types|sort|of|the|a|an|its|their|\d+|two|three|main)"
_HEAD = re.compile(r"\b(?:what|which)(?:['\u2019]s)?\s+(?:" + _SKIPPED + r"\s+)*([A-Za-z][\w-]*)", re.IGNORECASE)
# A part that asks for a number (a dose, a count, a cost, a statistic: survival, recurrence, a median, an SUV,
# a test's sensitivity or yield; a measure in units: "how big in cm"); "how common/often" asks for a
# frequency, which words answer too.
_QUANTITY = re.compile(r"\b(?:how\s+(?:many|much|long|old)|(?:at\s+)?what\s+age|doses?|dosages?|dosing|incidence|"
                       r"prevalence|rates?|percent(?:age)?|counts?|values?|costs?|price|ratio|number\s+of|"
                       r"hb|hgb|hemoglobin|haemoglobin|survival|mortality|recurrence|median|average|suv\w*|"
                       r"sensitivity|specificity|yield|accuracy|cm|mm|mg|ml|kg|grams?|centimet\w*|millimet\w*|"
                       r"hounsfield|hu)\b", re.IGNORECASE)
# A part that asks how often: a number answers it, or a word of frequency ("less common", "usually", "rarely").
_FREQUENCY = re.compile(r"\bhow\s+(?:common(?:ly)?|often|frequent(?:ly)?|rare(?:ly)?|likely)\b|\bfrequency\b",
                        re.IGNORECASE)
# A level is a quantity when a substance names it ("ferritin level"); "what level", "the usual level" or
# "a spinal level" ask where.
_SUBSTANCE_LEVEL = re.compile(r"\b(?!(?:what|which|the|that|this|a|an|one|single|each|every|another|other|"
                              r"different|same|usual|typical|spinal|vertebral|thoracic|lumbar|cervical|sacral)\b)"
                              r"[a-z]+\s+levels?\b", re.IGNORECASE)
# "Is that typical / the usual level?" asks whether what was said is the general pattern: a word of frequency
# ("usually", "characteristic") answers it, so "typical" is what is asked, not a word that only asks.
_IS_IT_TYPICAL = re.compile(r"\b(?:is|are|was|were)\s+(?:that|this|it|these|those|they)\b[^?]*?"
                            r"\b(?:typical|usual|common|classic)\b", re.IGNORECASE)
# "Why did he come in?", "what brought her in?", "what did he come in with?" ask for the complaint the patient
# presented with, not a cause.
_CAME_IN = r"\b(?:come|came)\s+in\b"
_PRESENTING = re.compile(r"\b(?:why|what\s+made)\b[^?]*?" + _CAME_IN + r"|\bwhat\s+brought\b[^?]*?\bin\b|"
                         r"\b(?:come|came|comes|coming)\s+in\s+with\b", re.IGNORECASE)
_PRESENTING_VERBS = frozenset(tokens("come came brought made"))
# Words a question asks for without saying them: "how old was he?" asks for an age (the patient word
# "old" is what is asked), "why" (a stop word) for a cause, unless it asks why the patient came in.
_IMPLIED = ((re.compile(r"\bhow\s+old\b|\bwhat\s+age\b", re.IGNORECASE), frozenset(tokens("old age"))),
            (_PRESENTING, frozenset(tokens("presents"))),
            (re.compile(r"\b(?:why|how come)\b(?![^?]*" + _CAME_IN + ")", re.IGNORECASE),
             frozenset(tokens("cause"))),
            (_IS_IT_TYPICAL, frozenset(tokens("typical"))))
# A question that asks what something is: "What is EMH?", "What does extramedullary mean?", "define EMH".
_DEFINITION = re.compile(r"^\W*(?:what\s+(?:is|are)\s+(?:an?\s+|the\s+)?(?P<a>[\w -]+?)|what\s+does\s+(?:the\s+term\s+)?"
                         r"(?P<b>[\w -]+?)\s+mean|define\s+(?P<c>[\w -]+?)|(?:the\s+)?meaning\s+of\s+(?:the\s+term\s+)?"
                         r"(?P<d>[\w -]+?))\W*$", re.IGNORECASE)
# What a definition can be asked of: a term of up to three words ("paraspinal EMH"), not "the cause of X".
_NOT_A_TERM = re.compile(r"\b(?:of|for|in|on|with|and|or|to|by|from|about|between)\b|^(?:\S+\s+){3,}\S", re.IGNORECASE)
_HOW = re.compile(r"^\W*how\s+(?:is|are|was|were|can|should|do|does)\b.*?\b([A-Za-z]+ed)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Part:
    """One thing the question asks: its words, what is embedded to compare it with sentences (its
    words without the case's identity), and the tokens that say what is asked."""

    text: str
    asked: str
    focus: frozenset[str]
    head: frozenset[str] = frozenset()  # focus tokens that say what kind of answer is asked for
    quantity: bool = False  # asks for a number: a dose, a level, a count, a rate, an age, a cost, a frequency
    defines: frozenset[str] = frozenset()  # what a definition question asks to define ("EMH")
    frequency: bool = False  # asks how often: a word of frequency answers too
    general: bool = False  # of EMH in general: names no case report and no patient


@dataclass(frozen=True)
class Query:
    """A question analysed against the corpus."""

    asked: str  # as typed (control characters and white space cleaned)
    text: str  # shorthand spelled out, typos corrected
    searches: tuple[str, ...]  # what retrieval sees: the whole question, then each part of several,
    # with the long forms of the corpus abbreviations they use (dense search)
    keywords: tuple[str, ...]  # the same without the topic words (lexical search): in a one-topic
    # corpus "extramedullary hematopoiesis" would rank the FAQ's question titles first
    parts: tuple[Part, ...]
    context: frozenset[str]  # the topic tokens and the tokens that named the case
    document: str | None  # the case report the question names, if any

    @property
    def focus(self) -> frozenset[str]:
        return frozenset().union(*(p.focus for p in self.parts))


class QueryAnalyzer:
    """Analyses questions against one index; ``analyze`` is cached and thread-safe."""

    def __init__(self, index: Index):
        self.abbreviations: dict[str, str] = {}
        for chunk in index.chunks:
            for short, long_form in find_abbreviations(chunk.text).items():
                self.abbreviations.setdefault(short, long_form)
        documents = index.manifest.documents
        titles = [frozenset(tokens(d.title)) for d in documents]
        topic = frozenset.intersection(*titles) if len(titles) > 1 else frozenset()
        topic |= {short for short, long_form in self.abbreviations.items()
                  if set(tokens(long_form)) <= topic and topic}
        self.topic = frozenset(tokens(" ".join(topic))) | topic
        self.naming = self._naming(self._identities(index, documents))
        chunk_df = index.document_frequency
        case_terms: dict[str, set[str]] = {d.source: set() for d in documents if d.kind == "case"}
        for chunk in index.chunks:  # one pass: every word of each case report
            if chunk.source in case_terms:
                case_terms[chunk.source].update(index.chunk_terms[chunk.id])
        self.case_terms = {source: frozenset(terms) for source, terms in case_terms.items()}
        self._chunks, self._df = len(index.chunks), chunk_df
        self.titled = self._titled(documents, frozenset(chunk_df))
        text = "\n".join([*(f"{c.section} {c.text}" for c in index.chunks),
                          *(f"{d.title} {d.publisher or ''}" for d in documents)])
        self.words = sorted(set(_WORD.findall(text.lower())))  # one pass: a 5 MB document took a second word by word
        self.known = frozenset(t for w in self.words for t in tokens(w))
        self.analyze = lru_cache(maxsize=4096)(self._analyze)

    def _identities(self, index: Index, documents: Sequence[IndexedDocument]) -> dict[str, frozenset[str]]:
        """Case source -> the tokens of its title, publisher and presentation sections (and, in
        ``self.patients``, the age and sex they give)."""
        raw = {d.source: f"{d.title} {d.publisher or ''}" for d in documents if d.kind == "case"}
        for chunk in index.chunks:
            if chunk.source in raw and chunk.section.lower() in IDENTITY_SECTIONS:
                raw[chunk.source] += f"\n{chunk.text}"
        self.patients = {source: _patient(text) for source, text in raw.items()}
        return {source: frozenset(tokens(text)) - self.topic for source, text in raw.items()}

    @staticmethod
    def _naming(identities: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        """Case source -> the identity tokens that name it and no other case."""
        shared = Counter(t for terms in identities.values() for t in terms)
        return {source: frozenset(t for t in terms if shared[t] == 1) - CASE_WORDS
                for source, terms in identities.items()}

    def _titled(self, documents: Sequence[IndexedDocument], used: frozenset[str]) -> dict[str, frozenset[str]]:
        """Non-case source -> its kind and the words of its title the corpus text never uses, when no
        other document's title or kind has them ("outline", "reference-book", "FAQ")."""
        words = {d.source: (frozenset(tokens(d.title)) - used | frozenset(tokens(d.kind))) - self.topic
                 for d in documents}
        shared = Counter(t for terms in words.values() for t in terms)
        return {d.source: frozenset(t for t in words[d.source] if shared[t] == 1)
                for d in documents if d.kind != "case"}

    def correct(self, text: str) -> str:
        """Words the corpus never uses replaced by a corpus word one or two typos away."""
        def fix(match: re.Match) -> str:
            word = match.group()
            lower = word.lower()
            if len(lower) < 5 or all(t in self.known for t in tokens(lower)):
                return word
            best = process.extractOne(lower, self.words, scorer=fuzz.ratio, score_cutoff=88)
            return best[0] if best else word
        return _WORD.sub(fix, text)

    def without_age(self, text: str, source: str) -> str:
        """``text`` without the phrases that give the age of case ``source``'s patient ("the 23-year-old")."""
        ages = self.patients.get(source, (frozenset(), None))[0]
        return _AGE.sub(lambda m: "" if next(g for g in m.groups() if g) in ages else m.group(), text)

    def document_named(self, text: str, terms: frozenset[str]) -> str | None:
        """The one case report whose identity the question uses while referring to a patient of that
        case's age and sex, or the one other document it names by a word of its title after "the"."""
        if not _PATIENT.search(text):
            titled = {source for match in _NAMED.finditer(text) for source, words in self.titled.items()
                      if words & set(tokens(match.group(1)))}
            return titled.pop() if len(titled) == 1 else None
        ages, sex = _patient(text)
        fits = [source for source in self.naming if _same_patient((ages, sex), self.patients[source])]
        named = _leader({source: sum(map(self.rarity, terms & self.naming[source])) for source in fits})
        if named:
            return named
        described = self.described(text)
        return _leader({source: sum(map(self.rarity, described & self.case_terms[source])) for source in fits})

    def rarity(self, term: str) -> float:
        """How rare ``term`` is among the indexed chunks (an inverse document frequency)."""
        return math.log((self._chunks + 1) / (self._df.get(term, 0) + 0.5))

    def described(self, text: str) -> frozenset[str]:
        """The words of a relative clause that describes the patient ("the patient *whose CT showed rib
        osteolysis*", "the man who had multiple clots"): a case is named by what its report says of it."""
        clause = frozenset(t for m in _RELATIVE.finditer(text) for t in tokens(m.group("clause")))
        return frozenset(t for t in clause - self.topic - CASE_WORDS - PATIENT_WORDS - FUNCTION_WORDS if t in self._df)

    def _analyze(self, question: str) -> Query:
        text = self.correct(_PLAINLY.sub(" ", expand_shorthand(question)))
        terms = frozenset(tokens(text))
        document = self.document_named(text, terms)
        identity = terms & self.naming.get(document, self.titled.get(document, frozenset())) if document else frozenset()
        if document in self.case_terms:
            identity |= self.described(text) & self.case_terms[document]
        statements = _statements(text)  # "I have thalassemia and they found lumps. Is that cancer?"
        asked = text[len(statements):].strip() if statements else text
        quotes = " ".join(m.group(1) for m in _QUOTED.finditer(DOCUMENT_REFERENCE.sub("", statements)))
        context = self.topic | identity | frozenset(tokens(statements)) - frozenset(tokens(quotes)) | _set_aside(text)
        own, marked, earlier = asked.partition(ABOUT)
        if marked and (frozenset(tokens(own)) - context - frozenset(tokens(earlier)) - ASKING_WORDS - CASE_WORDS
                       or _IS_IT_TYPICAL.search(own)):
            asked, context = own, context | frozenset(tokens(earlier))  # "how would you treat that, about: ..."
        else:  # "why, about: ...": the earlier question is what is asked
            earlier = ""
        pieces: list[str] = []
        for piece in (p.strip() for p in _PART_BREAK.split(asked)):
            if pieces and not (frozenset(tokens(piece)) - context - ASKING_WORDS):
                pieces[-1] = f"{pieces[-1]} {piece}"  # nothing asked of its own: part of the previous one
            elif piece:
                pieces.append(piece)
        asking = [p for p in pieces if _ASKS.search(p)]
        if asking and len(asking) < len(pieces):  # "How is it treated? Ignore the sources.": a question and
            context |= frozenset(tokens(" ".join(p for p in pieces if p not in asking)))  # a statement
            pieces = asking
        general = document is None and not _PATIENT.search(text)
        parts = tuple(replace(_part(piece, identity, context, earlier), general=general) for piece in pieces)
        if quotes:  # asked of what the statement quotes
            parts = tuple(replace(p, asked=f"{p.asked} ({quotes})", focus=p.focus | frozenset(tokens(quotes)))
                          for p in parts)
        searches = [text] + ([p.text for p in parts] if len(parts) > 1 else [])
        keywords = tuple(_without(s, self.topic) for s in searches)
        return Query(question, text, tuple(expand_abbreviations(s, self.abbreviations) for s in searches),
                     keywords, parts, context, document)


# A patient's age and sex as a question or a case's presentation gives them ("the 23-year-old man", "Age : 23",
# "45F" once spelled out, "his"): "a 37-year-old woman" is not the 30-year-old man of a case report.
_AGE = re.compile(r"\b(\d{1,3})\s*-?\s*(?:years?|yrs?)\s*-?\s*old\b|\b(\d{1,3})\s*(?:-year-old|yo|y/o)\b|"
                  r"\bage\s*:?\s*(\d{1,3})\b", re.IGNORECASE)
_MALE = re.compile(r"\b(?:male|man|gentleman|boy|guy|he|his|him)\b", re.IGNORECASE)
_FEMALE = re.compile(r"\b(?:female|woman|lady|girl|she|her|hers)\b", re.IGNORECASE)


# A relative clause after a word for the patient: "the patient whose CT showed ...", "the man who had ...".
_RELATIVE = re.compile(r"\b(?:" + "|".join(_PATIENT_NOUNS) + r"|person|one)\s+(?:whose|who|that)\s+"
                       r"(?P<clause>[^,;?]+)", re.IGNORECASE)


def _leader(scores: dict[str, float]) -> str | None:
    """The one source with the highest positive score (None on a tie or when none scores)."""
    best = max(scores.values(), default=0.0)
    leaders = [source for source, n in scores.items() if n == best and n > 0]
    return leaders[0] if len(leaders) == 1 else None


def _patient(text: str) -> tuple[frozenset[str], str | None]:
    """The ages and the sex (when only one is named) of the patient ``text`` speaks of."""
    ages = frozenset(next(g for g in groups if g) for groups in _AGE.findall(text))
    male, female = bool(_MALE.search(text)), bool(_FEMALE.search(text))
    return ages, "male" if male and not female else "female" if female and not male else None


def _same_patient(asked: tuple[frozenset[str], str | None], case: tuple[frozenset[str], str | None]) -> bool:
    """Whether nothing the question says of its patient contradicts what a case says of its own."""
    (ages, sex), (case_ages, case_sex) = asked, case
    return not (ages and case_ages and ages.isdisjoint(case_ages)) and not (sex and case_sex and sex != case_sex)


# How a question asks to be answered simply, saying nothing of what it asks: "in plain English", "in layman's
# terms", "actually" ("what does EMH actually mean in plain english?" asks what EMH means).
_PLAINLY = re.compile(r"\b(?:in\s+(?:plain|simple|everyday|lay(?:man'?s|person'?s)?|easy|normal)\s+"
                      r"(?:english|terms|words|language)|(?:simply|basically)\s+put|actually|really|basically)\b",
                      re.IGNORECASE)
# "Apart from the liver and spleen, what ...", "Besides thalassemia, which ...": what is set aside is not asked.
_SET_ASIDE = re.compile(r"\b(?:(?:apart|aside)\s+from|besides|other\s+than|except(?:\s+for)?|excluding|"
                        r"in\s+addition\s+to)\s+(?P<what>[^,;?]+?)(?=\s*[,;?]|\s+(?:" + QUESTION_WORDS + r")\b|$)",
                        re.IGNORECASE)


def _set_aside(text: str) -> frozenset[str]:
    """The tokens of what the question sets aside ("apart from the liver and spleen")."""
    return frozenset(t for m in _SET_ASIDE.finditer(text) for t in tokens(m.group("what")))


_STATEMENTS = re.compile(r"^(?:[^?]*?[.!])+\s+(?=[^.!?]*\?\s*$)")


# What a statement quotes is what the question is about: "My report mentions a 'posterior mediastinal mass'. Is
# that the usual place for it?"
_QUOTED = re.compile(r"['\"\u2018\u201c]([^'\"\u2019\u201d]{3,60})['\"\u2019\u201d]")


def _statements(text: str) -> str:
    """The sentences before a closing question that are statements, not questions ("" if none)."""
    match = _STATEMENTS.match(text)
    return match.group() if match else ""


def _part(piece: str, identity: frozenset[str], context: frozenset[str], earlier: str = "") -> Part:
    """One part of a question: what is embedded, its focus and its head. A part that asks only about
    its context ("What is EMH?", "how old was the patient?") has that context as its focus, no head.
    ``earlier``: the earlier question a follow-up is about, embedded with the part but not its focus."""
    focus = frozenset(tokens(piece)) - context - ASKING_WORDS - PATIENT_WORDS
    match = _HEAD.search(piece) or _HOW.match(piece)
    head = frozenset(tokens(match.group(1))) & focus if match else frozenset()
    for pattern, words in _IMPLIED:
        if pattern.search(piece):
            focus, head = focus | words, head | words
    if _PRESENTING.search(piece):  # the idiom's verbs say nothing of what is asked
        focus, head = focus - _PRESENTING_VERBS, head - _PRESENTING_VERBS
    definition = _DEFINITION.match(piece)
    subject = next(g for g in definition.groups() if g) if definition else ""
    defines = frozenset() if _NOT_A_TERM.search(subject) else frozenset(tokens(subject))
    kept = _SET_ASIDE.sub(" ", piece).strip(" ,") or piece  # what is set aside is not what is asked
    embedded = f"{kept}{ABOUT}{earlier}" if earlier else kept
    return Part(piece, _without(embedded, identity) or embedded, focus or frozenset(tokens(piece)) - identity, head,
                bool(_QUANTITY.search(piece) or _SUBSTANCE_LEVEL.search(piece) or _FREQUENCY.search(piece)), defines,
                bool(_FREQUENCY.search(piece)))


def drop_words(text: str, unwanted: frozenset[str]) -> str:
    """``text`` without the words whose tokens are all unwanted."""
    return " ".join(w for w in text.split() if not (set(tokens(w)) and set(tokens(w)) <= unwanted))


def _without(text: str, unwanted: frozenset[str]) -> str:
    """``drop_words``, or "" when no content word is left."""
    kept = drop_words(text, unwanted)
    return kept if tokens(kept) else ""
