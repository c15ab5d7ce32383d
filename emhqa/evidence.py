"""Sentence-level evidence for a question: which retrieved sentences answer it, and how well.

One place for scoring: ``matches`` rates a chunk's sentences against a text (cosine and weighted
word overlap); ``assess`` uses it to pick the sentences that answer each part of the question (the
extractive answer) and to measure how well they cover what was asked (abstention's features), once
per question: the pipeline and the extractive generator share that one cached assessment. The
support check of a model's sentences (``generation/support.py``) ranks ``matches`` its own way.
Sentence vectors come from the index, so a question costs one embedding per part.

How an answer is chosen (README, "How it works"):
- a sentence's value for a part is its similarity to the part with the corpus topic direction
  removed (in a one-topic corpus every sentence is "about EMH") plus the share of the part's
  *focus* weight it contains (its section title counts: an FAQ question, "Findings");
- a question that names a case report is answered from that report only;
- each part gets its best sentence and the close runners-up of the same passage; a sentence that
  opens with a pronoun or connective ("It", "These", "Hence") brings its antecedent sentence, and
  an indented list item brings its parent item, when they were retrieved.
"""
from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .config import Selection
from .index import Index, mean_direction, without_direction
from .query import CASE_WORDS, FUNCTION_WORDS, Part, Query, QueryAnalyzer
from .sentence_model import SentenceModel
from .synonyms import related
from .text import tokens
from .types import Chunk, Passage, Span

# A sentence that cannot stand alone: it needs the sentence before it.
_DANGLING = re.compile(r"^(it|its|this|these|those|they|their|such|he|his|she|her|hence|thus|therefore|"
                       r"otherwise|additionally|moreover|however|also|furthermore|consequently|the latter)\b",
                       re.IGNORECASE)
# The sections of a case report that discuss the disease rather than tell of its patient.
_DISCUSSION = re.compile(r"discussion|comment|review|background|introduction|conclusion", re.IGNORECASE)
# Reference lists answer only questions about the literature.
_REFERENCES = re.compile(r"reference|bibliograph|literature", re.IGNORECASE)
_LITERATURE = frozenset(tokens("paper papers article articles reference references author authors journal "
                               "published publication study studies literature review cite citation source"))
# A number in a sentence: digits or a number word, not "one of" (a quantity question needs one the
# question lacks).
_NUMBER = re.compile(r"(?<![A-Za-z\d])\d+(?:[.,]\d+)?|\b(?:one(?!\s+of\b)|two|three|four|five|six|seven|eight|nine|ten|twice|half|dozen)\b",
                     re.IGNORECASE)
# Words that say how often: they answer "how common ...?" as a number does.
_FREQUENT = frozenset(tokens("common commonly uncommon rare rarely usual usually unusual frequent frequently often "
                             "occasionally typical typically atypical seldom always never most majority"))
_POINTERS = re.compile(r"\((?:figs?|figures?|tables?)\.?[^)]*\)|\[[\d,\s-]+\]", re.IGNORECASE)  # "(Fig. 1)", "[19]"
# A sentence that defines its opening words: "Extramedullary hematopoiesis (EMH) refers to ...".
_DEFINES = re.compile(r"^\W*(?:the\s+|an?\s+)?([\w -]{2,60}?)\s*(?:\([^)]{1,20}\)\s*)?"
                      r"(?:(?:is|are)\s+(?:an?|the|defined\s+as)|refers\s+to|means)\b", re.IGNORECASE)
# Sentences of documents indexed keyword-first embedded per question, those richest in its focus words.
ON_DEMAND_SENTENCES = 1
_LIST_LINE = re.compile(r"^([ \t]*)(?:[\u2022\u25cf\u25aa*\-–]|\d+\.)\s")


@dataclass(frozen=True)
class ScoredSentence:
    passage: int  # position of its passage in the retrieved list
    sentence: Span
    similarity: float  # cosine between question and sentence
    overlap: float  # share of the question's term weight found in the sentence
    score: float


@dataclass(frozen=True)
class Assessment:
    """The answer sentences chosen for a question, and the evidence abstention weighs."""

    query: Query
    answer: tuple[ScoredSentence, ...]  # by part, most probable passage first; antecedents and parents included
    features: dict[str, float]
    uncovered: tuple[Part, ...] = ()  # parts the retrieved sentences cannot answer (a number none states)


class Evidence:
    """IDF weights over the indexed chunks, a topic-free sentence space, and answer selection."""

    def __init__(self, index: Index, analyzer: QueryAnalyzer, encoder, texts: dict[str, str],
                 selection: Selection = Selection(), model: SentenceModel | None = None):
        self.index, self.analyzer, self.encoder, self.texts = index, analyzer, encoder, texts
        self.selection = selection
        self.model = model or SentenceModel.load()
        self.cases = frozenset(d.source for d in index.manifest.documents if d.kind == "case")
        df = index.document_frequency
        n = max(len(index.chunks), 1)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._vocabulary = sorted(self.idf)
        self.family = lru_cache(maxsize=65536)(self._family)
        self._terms: dict[int, list[frozenset[str]]] = {}  # chunk id -> its sentences' terms, filled on use
        self._labels = self._find_labels()
        self.topic = mean_direction(index.sentence_vectors)
        self._residual: dict[int, np.ndarray] = {}  # chunk id -> its topic-free sentence vectors, filled on use
        self.assess = lru_cache(maxsize=1024)(self._assess)
        self._asked = lru_cache(maxsize=1024)(self._asked_terms)
        # (chunk id, sentence position) -> vector, for the chunks of documents indexed keyword-first
        self._embedded_now: dict[tuple[int, int], np.ndarray] = {}

    def chunk_terms(self, chunk_id: int) -> frozenset[str]:
        return self.index.chunk_terms[chunk_id]

    def sentence_terms(self, chunk_id: int) -> list[frozenset[str]]:
        """Each sentence's tokens with its section title's and its label's (see ``labels``)."""
        if chunk_id not in self._terms:
            chunk = self.index.chunks[chunk_id]
            self._terms[chunk_id] = [frozenset(tokens(f"{chunk.section} {self._labels.get((chunk.source, s.start), '')} "
                                                      f"{s.text}")) for s in chunk.sentences]
        return self._terms[chunk_id]

    def _find_labels(self) -> dict[tuple[str, int], str]:
        """(source, sentence start) -> the short label line the parser left out above it and the
        sentences that follow it directly ("Synonyms" above "Extramedullary erythropoiesis")."""
        labels: dict[tuple[str, int], str] = {}
        previous = ("", "", 0)  # source, section, end of the last sentence (no source is named "")
        label = ""
        for chunk in self.index.chunks:
            text = self.texts.get(chunk.source, "")
            for sentence in chunk.sentences:
                same = previous[:2] == (chunk.source, chunk.section)
                gap = text[previous[2]:sentence.start].strip() if same else ""
                if not same:
                    label = ""
                elif gap:
                    label = gap if len(gap.split()) <= 4 and "\n" not in gap and re.search("[A-Za-z]{3}", gap) \
                        and not gap.endswith(".") else ""
                if label:
                    labels[(chunk.source, sentence.start)] = label
                previous = (chunk.source, chunk.section, sentence.end)
        return labels

    def weights(self, terms) -> dict[str, float]:
        return {t: self.idf.get(t, self.unseen_idf) for t in set(terms)}

    def _family(self, term: str) -> frozenset[str]:
        """``term`` and the corpus tokens that differ from it only by a short ending the stemmer left
        ("diagnos" of diagnosed, "diagnosi"; "defin" of define, "definit"): a prefix of 5 or more."""
        if len(term) < 5:
            return frozenset({term})
        stem = term[:5]
        at = bisect.bisect_left(self._vocabulary, stem)
        family = {term}
        while at < len(self._vocabulary) and self._vocabulary[at].startswith(stem):
            other = self._vocabulary[at]
            short, long = sorted((term, other), key=len)
            if long.startswith(short) and len(long) - len(short) <= 3:
                family.add(other)
            at += 1
        return frozenset(family)

    def overlap(self, weights: dict[str, float], present: frozenset[str], related_weight: float | None = None) -> float:
        """Share of the weighted question terms found among ``present`` terms: in full for the term or
        its stem family, ``related_weight`` (``Selection.related_weight`` by default) of it for a related
        word ("responsible" for "cause")."""
        total = sum(weights.values())
        if not total:
            return 0.0
        related_weight = self.selection.related_weight if related_weight is None else related_weight
        return sum(w * self._match(t, present, related_weight) for t, w in weights.items()) / total

    def _match(self, term: str, present: frozenset[str], related_weight: float) -> float:
        if term in present or not self.family(term).isdisjoint(present):
            return 1.0
        long_form = self.analyzer.abbreviations.get(term)
        if long_form and frozenset(tokens(long_form)) <= present:  # "EMH" in "extramedullary hematopoiesis (EH)"
            return 1.0
        return related_weight if not related(term).isdisjoint(present) else 0.0

    def unseen_share(self, weights: dict[str, float]) -> float:
        """Share of the term weight on words the corpus never uses (``_unseen``)."""
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if self._unseen(t)) / total if total else 1.0

    def _unseen(self, term: str) -> bool:
        """No word of the term's stem family, nor of a related word's, is in the corpus ("retroperitoneum"
        is not unseen in a corpus that says "retroperitoneal", nor "lump" in one that says "masses")."""
        return all(self.family(t).isdisjoint(self.idf) for t in related(term))

    def topic_free(self, vectors: np.ndarray) -> np.ndarray:
        """Unit vectors with the corpus's mean sentence direction projected out."""
        rest = without_direction(vectors, self.topic)
        norms = np.linalg.norm(rest, axis=-1, keepdims=rest.ndim == 2)
        return rest / np.maximum(norms, 1e-9)

    def matches(self, chunk: Chunk, query: np.ndarray, weights: dict[str, float],
                *, topic_free: bool) -> list[tuple[Span, float, float]]:
        """Each sentence of ``chunk`` with its cosine to ``query`` (a unit vector, in the topic-free
        space or the plain one) and the share of ``weights`` its terms hold (``overlap``)."""
        rows = self._rows(chunk.id) if topic_free else self._plain_rows(chunk.id)
        return [(sentence, float(sim), self.overlap(weights, terms))
                for sentence, sim, terms in zip(chunk.sentences, rows @ query, self.sentence_terms(chunk.id))]

    # -- choosing the answer -------------------------------------------------------------------

    def _rows(self, chunk_id: int) -> np.ndarray:
        """The chunk's sentence vectors in the topic-free space (made when a chunk is first scored: a
        large corpus's whole matrix took a fifth of a second at every load)."""
        rows = self._residual.get(chunk_id)
        if rows is None:
            rows = self.topic_free(self._plain_rows(chunk_id))
            if self.index.has_vectors[chunk_id]:  # not kept while its sentences are embedded as answers need them
                self._residual[chunk_id] = rows
        return rows

    def _plain_rows(self, chunk_id: int) -> np.ndarray:
        """The chunk's sentence vectors; for a document indexed keyword-first, those embedded so far
        (``embed_waiting``) and zero for the others, which are then scored by their words alone."""
        if self.index.has_vectors[chunk_id]:
            return self.index.sentence_rows(chunk_id)
        zero = np.zeros(self.index.sentence_vectors.shape[1], dtype=np.float32)
        return np.array([self._embedded_now.get((chunk_id, n), zero)
                         for n in range(len(self.index.chunks[chunk_id].sentences))], dtype=np.float32)

    def embed_waiting(self, chunk_ids: Sequence[int], focus: frozenset[str] | None = None) -> None:
        """Embed, in one call, sentences of those chunks that have no vectors yet (a document indexed
        keyword-first): every one, or with ``focus`` the ``ON_DEMAND_SENTENCES`` that hold most of the
        focus weight (a sentence without a focus word is not the answer; embedding all of an answer's
        passages made a question 4.7 times slower until the document's vectors were built)."""
        waiting = [(i, n) for i in dict.fromkeys(chunk_ids) if not self.index.has_vectors[i]
                   for n in range(len(self.index.chunks[i].sentences)) if (i, n) not in self._embedded_now]
        if focus is not None and waiting:
            weights = self.weights(focus)
            share = {key: self.overlap(weights, self.sentence_terms(key[0])[key[1]]) for key in waiting}
            waiting = sorted((key for key in waiting if share[key] > 0), key=lambda key: -share[key])
            waiting = waiting[:ON_DEMAND_SENTENCES]
        if not waiting:
            return
        rows = self.encoder.encode([self.index.chunks[i].sentences[n].text for i, n in waiting])
        self._embedded_now.update(zip(waiting, np.asarray(rows, dtype=np.float32)))

    def _terms_of(self, sentence: ScoredSentence, passages: Sequence[Passage]) -> frozenset[str]:
        """The terms of a scored sentence (``sentence_terms`` of its passage's chunk)."""
        chunk = passages[sentence.passage].chunk
        return self.sentence_terms(chunk.id)[chunk.sentences.index(sentence.sentence)]

    @staticmethod
    def allowed(query: Query, passages: Sequence[Passage], part: Part) -> list[int]:
        """Positions of the passages a part of the question may quote: those of the case the question
        names, if it names one; reference lists only for a part about the literature ("why does the
        spleen enlarge, and which reference reviews it?" answers its first part from the text)."""
        literature = bool(part.focus & _LITERATURE)
        return [i for i, p in enumerate(passages) if query.document in (None, p.chunk.source)
                and (literature or not _REFERENCES.search(p.chunk.section))]

    def candidates(self, part: Part, passages: Sequence[Passage],
                   allowed: Sequence[int]) -> list[tuple[ScoredSentence, dict[str, float]]]:
        """Every sentence of the allowed passages with the sentence model's features for ``part``
        (``sentence_model.FEATURES``); the sentence's ``score`` is left at 0."""
        plain_query = self.encoder.encode_query(part.asked)
        query = self.topic_free(plain_query)
        plain = self.weights(part.focus)
        weights = {t: w * (1 + self.selection.head_weight) if t in part.head else w for t, w in plain.items()}
        head = self.weights(part.head)
        top = max((passages[rank].score for rank in allowed), default=0.0) or 1.0
        found: list[tuple[ScoredSentence, dict[str, float]]] = []
        for rank in allowed:
            chunk = passages[rank].chunk
            section = frozenset(tokens(chunk.section))
            plain_rows = self._plain_rows(chunk.id) @ plain_query
            for position, ((sentence, sim, overlap), plain_sim, terms) in enumerate(zip(
                    self.matches(chunk, query, weights, topic_free=True), plain_rows, self.sentence_terms(chunk.id))):
                own = frozenset(tokens(sentence.text))
                words = len(sentence.text.split())
                found.append((ScoredSentence(rank, sentence, sim, overlap, 0.0), {
                    "similarity": sim, "plain_similarity": float(plain_sim), "focus": overlap,
                    "focus_plain": self.overlap(plain, terms), "focus_own": self.overlap(plain, own, related_weight=0.0),
                    "focus_section": self.overlap(plain, section),
                    "head": self.overlap(head, terms) if head else 0.0,
                    "passage": passages[rank].score / top, "passage_rank": 1 / (rank + 1),
                    "novelty": self.novelty(sentence, part.text), "log_words": math.log(1 + words),
                    "dangling": float(bool(_DANGLING.match(sentence.text))), "first": float(position == 0),
                    "short": float(words < 6), "topic_only": float(not own - self.analyzer.topic),
                    "patient_detail": float(part.general and self._tells_of_patient(chunk))}))
        for name in ("similarity", "plain_similarity", "focus", "passage"):
            best = max((f[name] for _, f in found), default=0.0)
            for _, features in found:
                features[f"{name}_gap"] = features[name] - best
        return found

    def _tells_of_patient(self, chunk: Chunk) -> bool:
        """Whether ``chunk`` tells of one case report's patient (its history, findings, diagnosis), not of
        the disease (its discussion)."""
        return chunk.source in self.cases and not _DISCUSSION.search(chunk.section) \
            and not _REFERENCES.search(chunk.section)

    def _part_scores(self, part: Part, passages: Sequence[Passage], allowed: Sequence[int]) -> list[ScoredSentence]:
        """The candidates scored by the sentence model: the probability that each answers ``part``."""
        found = self.candidates(part, passages, allowed)
        if not found:
            return []
        probabilities = self.model.probabilities([features for _, features in found])
        return [replace(sentence, score=float(p)) for (sentence, _), p in zip(found, probabilities)]

    def _with_long_forms(self, terms: frozenset[str]) -> frozenset[str]:
        """``terms`` with the tokens of the long forms of the corpus abbreviations among them."""
        return terms.union(*(tokens(self.analyzer.abbreviations[t]) for t in terms if t in self.analyzer.abbreviations))

    @staticmethod
    def _defines(sentence: str, subject: frozenset[str]) -> bool:
        """Whether ``sentence`` opens by defining ``subject`` ("EMH is ...", "Extramedullary hematopoiesis
        (EH) is defined as ...")."""
        match = _DEFINES.match(sentence)
        opening = frozenset(tokens(match.group(1))) if match else frozenset()
        return bool(opening) and opening <= subject

    def _choose(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """The most probable sentence and the others the model rates ``include`` or more and within
        ``Selection.runner_up_margin`` of it."""
        # One-word lines, and lines of topic words only (the outline's heading "Extramedullary hematopoiesis
        # (EMH)"), say nothing: quoted only when nothing else was retrieved.
        full = [s for s in scored if len(s.sentence.text.split()) >= self.selection.min_words
                and frozenset(tokens(s.sentence.text)) - self.analyzer.topic] or scored
        if not full:
            return []
        ranked = sorted(full, key=lambda s: (-s.score, s.passage, s.sentence.start))
        floor = max(self.model.include, ranked[0].score - self.selection.runner_up_margin)
        others = [s for s in ranked[1:] if s.score >= floor]
        return [ranked[0], *others[:self.selection.max_sentences - 1]]

    def _with_number(self, part: Part, picked: list[ScoredSentence], scored: list[ScoredSentence],
                     passages: Sequence[Passage], question: str) -> list[ScoredSentence]:
        """For a part that asks for a number: the picked sentences if one states a number the question
        does not give (or, asked how often, a word of frequency) beside a word of the part's head
        ("hemoglobin" of "what was his hemoglobin level?", "old" or "age" of "how old was the patient whose
        case ...") or, with no head, beside its most specific focus word, else the best such sentence within
        the runner-up margin, else nothing."""
        head = part.head - self.analyzer.topic - FUNCTION_WORDS
        specific = part.focus - CASE_WORDS - self.analyzer.topic - FUNCTION_WORDS
        if head:
            key: frozenset[str] | None = frozenset().union(*map(self.family, head))
        elif specific:
            key = self.family(max(sorted(specific), key=lambda t: self.idf.get(t, self.unseen_idf)))
        else:
            key = None  # "how old was he in case 4?" names no word

        def states(s: ScoredSentence) -> bool:
            number = bool(_new_numbers(s.sentence.text, question))
            if not number and not part.frequency:
                return False
            terms = self._terms_of(s, passages)
            if not number and _FREQUENT.isdisjoint(terms):  # asked how often, and no word of frequency
                return False
            return key is None or not key.isdisjoint(terms)

        if any(states(s) for s in picked):
            return picked
        floor = min(picked[0].score if picked else 0.0, self.model.include)
        return self._choose([s for s in scored if s.score >= floor and states(s)])[:1]

    def _context(self, sentence: ScoredSentence, passages: Sequence[Passage]) -> list[ScoredSentence]:
        """The retrieved sentences ``sentence`` needs to be understood: the sentence before it when it
        opens with a pronoun or connective, the parent item of an indented list item."""
        chunk = passages[sentence.passage].chunk
        text = self.texts.get(chunk.source, "")
        needed: list[Span] = []
        position = next(i for i, s in enumerate(chunk.sentences) if s == sentence.sentence)
        if _DANGLING.match(sentence.sentence.text) and position > 0:
            needed.append(chunk.sentences[position - 1])
        line_start = text.rfind("\n", 0, sentence.sentence.start) + 1
        item = _LIST_LINE.match(text, line_start)
        if item and item.end() <= sentence.sentence.start + 1 and len(item.group(1)) > 0:
            parent = self._parent_item(text, line_start, len(item.group(1)))
            needed += [s for s in chunk.sentences[:position] if parent is not None and s.start == parent]
        return [ScoredSentence(sentence.passage, span, sentence.similarity, sentence.overlap, sentence.score)
                for span in needed]

    def novelty(self, sentence: Span, question: str) -> float:
        """Share of a sentence's word weight (topic words aside) that the question does not use."""
        asked = self._asked(question)
        weights = self.weights(frozenset(tokens(sentence.text)) - self.analyzer.topic)
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t not in asked) / total if total else 0.0

    def _asked_terms(self, question: str) -> frozenset[str]:
        """The question's tokens with their stem families (``novelty`` rates every candidate against them)."""
        return frozenset().union(*(self.family(t) for t in tokens(question)))

    def _sequel(self, sentence: ScoredSentence, passages: Sequence[Passage], question: str) -> list[ScoredSentence]:
        """The sentence after an echo of the question, or after a short sentence ("The bones may provide
        a hint to the diagnosis."): it says what the first announces."""
        chunk = passages[sentence.passage].chunk
        position = chunk.sentences.index(sentence.sentence)
        if position + 1 >= len(chunk.sentences):
            return []
        short = len(sentence.sentence.text.split()) < self.selection.short_words
        if not short and self.novelty(sentence.sentence, question) >= self.selection.echo_novelty:
            return []
        return [ScoredSentence(sentence.passage, chunk.sentences[position + 1], sentence.similarity,
                               sentence.overlap, sentence.score)]

    @staticmethod
    def _parent_item(text: str, line_start: int, indent: int) -> int | None:
        """Offset of the text of the nearest list item above, indented less than ``indent``."""
        end = line_start - 1
        while end > 0:
            start = text.rfind("\n", 0, end) + 1
            item = _LIST_LINE.match(text, start, end)
            if not text[start:end].strip():
                return None
            if item and len(item.group(1)) < indent:
                return item.end() + len(text[item.end():end]) - len(text[item.end():end].lstrip())
            end = start - 1
        return None

    def _assess(self, question: str, passages: tuple[Passage, ...]) -> Assessment:
        query = self.analyzer.analyze(question)
        self.embed_waiting([p.chunk.id for p in passages], query.focus)
        chosen: dict[tuple[int, int], tuple[int, ScoredSentence]] = {}  # (passage, start) -> (part, sentence)
        best_per_part: list[ScoredSentence] = []
        peaks: list[float] = []  # per answered part: the best similarity retrieved
        uncovered: list[Part] = []
        for number, part in enumerate(query.parts):
            scored = self._part_scores(part, passages, self.allowed(query, passages, part))
            if part.defines:  # "What is EMH?" is answered by a sentence that defines EMH, when one was retrieved
                subject = self._with_long_forms(part.defines)
                scored = [s for s in scored if self._defines(s.sentence.text, subject)] or scored
            picked = self._choose(scored)
            if part.quantity:
                picked = self._with_number(part, picked, scored, passages, query.text)
                if not picked:
                    uncovered.append(part)
                    continue
            if picked:
                best_per_part.append(picked[0])
                peaks.append(max(s.similarity for s in scored))
                picked = picked + self._sequel(picked[0], passages, query.text)
            for sentence in picked:
                for needed in [*self._context(sentence, passages), sentence]:
                    chosen.setdefault((needed.passage, needed.sentence.start), (number, needed))
        answer = tuple(s for _, s in sorted(chosen.values(), key=self._answer_order(chosen.values())))
        covered = [part for part in query.parts if part not in uncovered] or list(query.parts)
        return Assessment(query, answer, self._features(covered, passages, best_per_part, peaks), tuple(uncovered))

    @staticmethod
    def _answer_order(chosen):
        """Sort key of the answer's sentences: by the part they answer, then the passage of the part's
        most probable sentence first, and each passage's sentences in reading order."""
        best: dict[tuple[int, int], float] = {}
        for number, s in chosen:
            best[(number, s.passage)] = max(best.get((number, s.passage), 0.0), s.score)
        return lambda item: (item[0], -best[(item[0], item[1].passage)], item[1].passage, item[1].sentence.start)

    def _features(self, parts: Sequence[Part], passages: Sequence[Passage], best: Sequence[ScoredSentence],
                  peaks: Sequence[float]) -> dict[str, float]:
        """Abstention's evidence (``abstention.FEATURES``), over the parts the answer covers (the others
        are reported as such): the weakest part's best similarity among its candidates, how much of the
        focus the parts' best sentences hold and how much their passages hold, and the share of the focus
        on words the corpus never uses."""
        focus = self.weights(frozenset().union(*(p.focus for p in parts)))
        covered = frozenset().union(*(self._terms_of(s, passages) for s in best))
        around = frozenset().union(*(self.chunk_terms(passages[s.passage].chunk.id) for s in best))
        return {
            "best_similarity": min(peaks, default=0.0),
            "focus_coverage": self.overlap(focus, covered),
            "passage_coverage": self.overlap(focus, around),
            "unseen_focus": self.unseen_share(focus),
        }


def _new_numbers(sentence: str, question: str) -> set[str]:
    """The numbers of ``sentence`` that the question does not already give ("the 23-year-old")."""
    asked = {n.lower() for n in _NUMBER.findall(question)}
    return {n.lower() for n in _NUMBER.findall(_POINTERS.sub(" ", sentence))} - asked
