"""Evaluation harness: FAQ lookup, leave-one-out, dev questions and near-/off-topic unanswerable regimes,
scored offline for the hybrid retriever and its dense-only and BM25-only baselines.

An answer to a dev question is *correct* when it is not an abstention, cites a gold section and
contains every key-fact group of the question (``metrics.fact_recall``); an unanswerable question is
answered correctly by refusing it. A report exports as a TREC run and qrels (``write_trec``) and as
per-question JSONL with RAGAS's field names (``write_per_question``); EVALUATION.md, "Exports"."""
from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .citations import cited_claims, without_markers
from .config import REPO_ROOT
from .errors import EmhqaError
from .feedback import summary as summary_feedback
from .metrics import bootstrap_ci, exact_match, fact_recall, first_hit, fold, ndcg, percentile, rouge_l, token_f1
from .parsers import faq_entries
from .retrieval import MODES
from .types import Answer, Chunk

if TYPE_CHECKING:
    from .sentence_model import SentenceModel

DEV_FILE = REPO_ROOT / "eval" / "dev.jsonl"
CONVERSATIONS_FILE = REPO_ROOT / "eval" / "conversations.jsonl"
ALSO_ANSWERED_FILE = REPO_ROOT / "eval" / "faq_also_answered.json"
# Conversations: first turns; answerable follow-ups with their history and, as the baseline, without
# it; follow-ups the corpus cannot answer (with history).
CONVERSATION_REGIMES = ("first-turn", "follow-up", "follow-up-alone", "follow-up-near")
REGIMES = ("lookup", "loo", "dev", "near-topic", "off-topic", *CONVERSATION_REGIMES)
UNANSWERABLE = ("near-topic", "off-topic", "follow-up-near")
# The share of the near-topic tuning questions abstention must refuse. A confident quote that does not
# answer is worse than a refusal, and new questions are refused less often than tuning ones: at 0.90 on
# the tuning half, 0.63-0.78 of new near-topic questions were refused (EVALUATION.md, session 12).
NEAR_REFUSAL_TARGET = 0.90
Key = tuple[str, str]  # (source, section)


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    regime: str
    gold: frozenset[Key] = frozenset()
    gold_answer: str | None = None
    hidden: Key | None = None  # a section kept out of retrieval (leave-one-out)
    split: str | None = None  # None: the FAQ regimes (lookup, leave-one-out), which are not split
    facts: tuple[tuple[str, ...], ...] = ()  # key-fact groups: the answer holds one string of each
    history: tuple[str, ...] = ()  # the conversation's earlier questions, oldest first
    kind: str | None = None  # the question file's "kind" (paraphrase, case, ...), where it gives one

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass
class Gold:
    items: list[Item]
    unanswered_faq: list[str] = field(default_factory=list)


def faq_gold(qa) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(source, question, answer) for every answered FAQ entry, and the unanswered questions."""
    pairs, unanswered = [], []
    for doc in qa.index.manifest.documents:
        if doc.kind != "faq":
            continue
        text = qa.texts[doc.source]
        for entry in faq_entries(text):
            if entry.answer is None:
                unanswered.append(entry.question.text)
            else:
                pairs.append((doc.source, entry.question.text, entry.answer.text))
    return pairs, unanswered


def load_gold(qa, regimes: Iterable[str] = REGIMES, dev_file: Path = DEV_FILE,
              also_file: Path = ALSO_ANSWERED_FILE, split: str | None = None) -> Gold:
    """Evaluation items for the chosen regimes; ``split`` keeps only 'tune' or 'report' dev rows."""
    regimes = set(regimes)
    pairs, unanswered = faq_gold(qa)
    answers = {q: a for _, q, a in pairs}
    also = json.loads(also_file.read_text(encoding="utf-8")) if also_file.exists() else {}
    items: list[Item] = []
    for n, (source, question, answer) in enumerate(pairs):
        if "lookup" in regimes:
            items.append(Item(f"lookup-{n:02d}", question, "lookup", frozenset({(source, question)}), answer))
        if "loo" in regimes:
            others = frozenset(tuple(k) for k in also.get(question, []))
            items.append(Item(f"loo-{n:02d}", question, "loo", others, answer, hidden=(source, question)))
    for n, row in enumerate(read_questions(dev_file), 1):
        if split and row.get("split") != split:
            continue
        regime = f"{row['refusal']}-topic" if row.get("refusal") else "dev"
        if regime in regimes:
            gold = frozenset((g["source"], g["section"]) for g in row.get("gold", ()))
            facts = tuple(tuple(group) for group in row.get("facts", ()))
            items.append(Item(row.get("id", f"q-{n:03d}"), row["question"], regime, gold,
                              answers.get(row.get("faq", "")), split=row.get("split", "report"), facts=facts,
                              kind=row.get("kind")))
    items += conversation_items(regimes, split)
    return Gold(items, unanswered)


def read_questions(path: Path) -> list[dict]:
    """A question file (README, "Evaluation"): one JSON object per line, {"question", "gold": [{"source",
    "section"}], "facts": [[...]]} for an answerable question or {"question", "refusal": "near"|"off"}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        raise EmhqaError(f"cannot read the question file {path}: {exc}") from exc
    rows: list[dict] = []
    ids: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answerable = bool(row.get("gold"))
            if not isinstance(row["question"], str) or answerable == (row.get("refusal") in ("near", "off")):
                raise ValueError("needs a question and either gold sections or \"refusal\": \"near\"|\"off\"")
            if "id" in row:
                if not isinstance(row["id"], str) or row["id"] in ids:
                    raise ValueError(f"an \"id\" is a text that names one question; {row['id']!r} is not")
                ids.add(row["id"])
            if answerable:
                [(g["source"], g["section"]) for g in row["gold"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EmhqaError(f"{path}, line {n}: not a question row ({exc}); see README, \"Evaluation\"") from exc
        rows.append(row)
    return rows


def provenance(qa, questions: Path) -> dict:
    """What a report was measured on: emhqa's version, the model, the corpus files, the question file."""
    from . import __version__

    manifest = qa.index.manifest
    return {"emhqa": __version__, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "model": manifest.model_id,
            "corpus": dict(manifest.corpus), "index_built_at": manifest.built_at,
            "questions": {"file": str(questions), "sha256": hashlib.sha256(questions.read_bytes()).hexdigest()}}


def conversation_items(regimes: set[str], split: str | None, path: Path = CONVERSATIONS_FILE) -> list[Item]:
    """Items of the conversation regimes from ``eval/conversations.jsonl``."""
    if not regimes & set(CONVERSATION_REGIMES) or not path.exists():
        return []
    items = []
    for row in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()):
        if split and row["split"] != split:
            continue
        history: tuple[str, ...] = ()
        for n, turn in enumerate(row["turns"]):
            gold = frozenset((g["source"], g["section"]) for g in turn.get("gold", ()))
            facts = tuple(tuple(group) for group in turn.get("facts", ()))
            variants = (["first-turn"] if n == 0 else ["follow-up-near"] if not gold
                        else ["follow-up", "follow-up-alone"])
            for regime in (v for v in variants if v in regimes):
                alone = regime == "follow-up-alone"
                items.append(Item(f"{row['id']}-{n}" + ("-alone" if alone else ""), turn["question"], regime,
                                  gold, split=row["split"], facts=facts, history=() if alone else history))
            history += (turn["question"],)
    return items


def answer_words(answer: Answer) -> str:
    """The answer text without its citation markers ("" for an abstention)."""
    return "" if answer.abstained else without_markers(answer)


def verbatim_share(answer: Answer) -> float | None:
    """Share of answer sentences found verbatim (white space folded) in the quote they cite."""
    quotes = {c.marker: " ".join(c.quote.split()) for c in answer.citations}
    if not quotes:
        return None
    claims = cited_claims(answer)
    if not claims:
        return None
    supported = 0
    for text, marker in claims:
        quote = quotes.get(marker, "")
        pieces = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if p]
        supported += all(p in quote or token_f1(p, quote) >= 0.9 for p in pieces)
    return supported / len(claims)


def score(item: Item, answer: Answer) -> dict:
    """Every metric of one answer to one item (None where it does not apply)."""
    ranked = [(p.chunk.source, p.chunk.section) for p in answer.passages]
    rank = first_hit(ranked, item.gold) if item.answerable else None
    cited = [(c.source, c.section) for c in answer.citations]
    text = answer_words(answer)
    cites_gold = not answer.abstained and any(c in item.gold for c in cited)
    facts = fact_recall(text, item.facts) if item.facts else None
    row: dict[str, float | None] = {
        "abstained": answer.abstained,
        "correct": (answer.abstained if not item.answerable
                    else cites_gold and (facts is None or facts == 1.0)),
        "seconds": answer.details.seconds,
    }
    if item.answerable:
        row.update({"cites_gold": float(cites_gold), "hit@1": float(rank == 1),
                    "hit@3": float(bool(rank and rank <= 3)), "hit@5": float(bool(rank and rank <= 5)),
                    "mrr": 1 / rank if rank else 0.0, "ndcg@5": ndcg(ranked, set(item.gold), 5)})
    if not answer.abstained:
        row["words"] = len(text.split())
    if item.answerable and not answer.abstained:
        row["citations_in_gold"] = sum(c in item.gold for c in cited) / len(cited) if cited else 0.0
        row["verbatim"] = verbatim_share(answer)
        if facts is not None:
            row["facts"] = facts
    if item.gold_answer and item.answerable:
        prediction = text
        row.update({"em": exact_match(prediction, item.gold_answer), "f1": token_f1(prediction, item.gold_answer),
                    "rouge_l": rouge_l(prediction, item.gold_answer)})
    return row


METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "em", "f1", "rouge_l", "citations_in_gold",
           "verbatim", "answered", "cites_gold", "facts", "correct")


def summarize(rows: Sequence[dict]) -> dict:
    """Means with bootstrap 95% intervals, abstention rates and latency percentiles."""
    out: dict = {"n": len(rows)}
    for name in METRICS:
        if name == "answered":
            values = [0.0 if r["abstained"] else 1.0 for r in rows]
        else:
            values = [float(r[name]) for r in rows if r.get(name) is not None]
        if values:
            out[name] = {"mean": sum(values) / len(values), "ci95": bootstrap_ci(values, samples=1000)}
    words = [r["words"] for r in rows if "words" in r]
    if words:
        out["words"] = {"median": percentile(words, 0.5), "p90": percentile(words, 0.9)}
    seconds = [r["seconds"] * 1000 for r in rows]
    out["latency_ms"] = {"p50": percentile(seconds, 0.5), "p95": percentile(seconds, 0.95)}
    return out


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="evaluating", unit="q", file=sys.stderr)


def evaluate(qa, regimes: Iterable[str] = REGIMES, generator: str | None = None,
             modes: Sequence[str] = MODES, k: int = 5, split: str | None = None,
             show_progress: bool = False, questions: Path = DEV_FILE) -> dict:
    """Ask every item in every retrieval mode; per-regime summaries and per-question rows.
    ``questions``: the dev file, or a user's own question file (``read_questions``). Every ask starts
    with the per-question caches emptied, so each mode's latency is that of a question the warm
    process has not seen (EVALUATION.md, "Latency")."""
    gold = load_gold(qa, regimes, dev_file=questions, split=split)
    bar = _progress(len(gold.items) * len(modes), show_progress)
    per_question: list[dict] = []
    grouped: dict[str, dict[str, list[dict]]] = {}
    for item in gold.items:
        for mode in modes:
            hidden = item.hidden
            exclude = (lambda c, h=hidden: (c.source, c.section) == h) if hidden else None
            qa.forget_questions()
            answer = qa.ask(item.question, k=k, generator=generator, exclude=exclude, mode=mode,
                            history=item.history)
            row = score(item, answer)
            grouped.setdefault(item.regime, {}).setdefault(mode, []).append(row)
            per_question.append(question_row(item, mode, answer, row))
            if bar:
                bar.update()
    if bar:
        bar.close()
    regimes_out = {regime: {mode: summarize(rows) for mode, rows in modes_rows.items()}
                   for regime, modes_rows in grouped.items()}
    return {"provenance": provenance(qa, questions),
            "generator": generator or qa.default_generator, "k": k, "split": split or "all",
            "feedback": {"file": str(qa.config.feedback_file) if qa.config.feedback_file else None,
                         **summary_feedback(qa.config.feedback_file)},
            "unanswered_faq_questions": gold.unanswered_faq, "regimes": regimes_out, "questions": per_question}


def question_row(item: Item, mode: str, answer: Answer, scores: dict) -> dict:
    """One question's row of a report: the question and its gold, the answer and its citations, the
    ranked passages (by ``passage_id``, without their text) and the scores."""
    return {"id": item.id, "regime": item.regime, "split": item.split, "kind": item.kind, "mode": mode,
            "question": item.question, "history": list(item.history), "standalone": answer.details.standalone,
            "gold": [{"source": source, "section": section} for source, section in sorted(item.gold)],
            "facts": [list(group) for group in item.facts], "gold_answer": item.gold_answer,
            "answer": answer.text, "abstained": answer.abstained,
            "citations": [c.to_dict() for c in answer.citations],
            "passages": [{"id": passage_id(p.chunk), "source": p.chunk.source, "section": p.chunk.section,
                          "score": round(p.score, 6)} for p in answer.passages],
            "scores": {n: v for n, v in scores.items() if n != "abstained"}}


def _token(text: str) -> str:
    """``text`` with white space and other unsafe characters percent-encoded: one TREC column."""
    return quote(text, safe="")


def passage_id(chunk: Chunk) -> str:
    """The passage's id in exports, ``<file>:<start>-<end>`` (its character span in the corpus file):
    unlike the index's chunk numbers, it stays the same when other files are added or removed."""
    return f"{_token(chunk.source)}:{chunk.start}-{chunk.end}"


def _section_chunks(chunks: Sequence[Chunk]) -> dict[Key, list[Chunk]]:
    """Every (source, section) with its chunks, in file order."""
    sections: dict[Key, list[Chunk]] = {}
    for chunk in chunks:
        sections.setdefault((chunk.source, chunk.section), []).append(chunk)
    return sections


def trec_run(report: dict, mode: str) -> str:
    """One retrieval mode's rankings as a TREC run, ``qid Q0 docid rank score emhqa-<mode>`` a line.
    The fused score is kept, and where two passages tie the lower one is set 1e-6 lower: tools that
    sort by score (trec_eval, ranx) then keep emhqa's order."""
    lines = []
    for row in (r for r in report["questions"] if r["mode"] == mode):
        score = float("inf")
        for rank, passage in enumerate(row["passages"], 1):
            score = min(passage["score"], score - 1e-6)
            lines.append(f"{_token(row['id'])} Q0 {passage['id']} {rank} {score:.6f} emhqa-{mode}")
    return "".join(line + "\n" for line in lines)


def trec_qrels(report: dict, chunks: Sequence[Chunk]) -> str:
    """``qid 0 docid 1`` for every chunk of every gold section of each answerable question (questions
    without gold sections have no rows)."""
    sections, seen, lines = _section_chunks(chunks), set(), []
    for row in report["questions"]:
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        lines += [f"{_token(row['id'])} 0 {passage_id(chunk)} 1" for gold in row["gold"]
                  for chunk in sections.get((gold["source"], gold["section"]), ())]
    return "".join(line + "\n" for line in lines)


def write_trec(report: dict, chunks: Sequence[Chunk], folder: Path) -> list[Path]:
    """``qrels.txt`` and one ``run-<mode>.txt`` per retrieval mode of the report in ``folder``."""
    files = {folder / "qrels.txt": trec_qrels(report, chunks)}
    for mode in dict.fromkeys(row["mode"] for row in report["questions"]):
        files[folder / f"run-{mode}.txt"] = trec_run(report, mode)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def per_question(report: dict, chunks: Sequence[Chunk]) -> list[dict]:
    """The report's question rows with each passage's span and text, the gold sections' chunks, and
    the same data under RAGAS's names (``user_input``, ``response``, ``retrieved_contexts``,
    ``reference_contexts``, ``reference``; before RAGAS 0.2: ``question``, ``answer``, ``contexts``,
    ``ground_truth``)."""
    by_id = {passage_id(chunk): chunk for chunk in chunks}
    sections = _section_chunks(chunks)
    rows = []
    for row in report["questions"]:
        found = [by_id[p["id"]] for p in row["passages"]]
        passages = [{**p, "start": c.start, "end": c.end, "text": c.text} for p, c in zip(row["passages"], found)]
        contexts = [p["text"] for p in passages]
        gold_texts = [c.text for g in row["gold"] for c in sections.get((g["source"], g["section"]), ())]
        rows.append({**row, "passages": passages, "user_input": row["question"], "response": row["answer"],
                     "retrieved_contexts": contexts, "reference_contexts": gold_texts,
                     "reference": row["gold_answer"], "contexts": contexts, "ground_truth": row["gold_answer"]})
    return rows


def write_per_question(report: dict, chunks: Sequence[Chunk], path: Path) -> None:
    """``per_question`` as JSONL: one object a line."""
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in per_question(report, chunks)),
                    encoding="utf-8")


def _cell(summary: dict, name: str) -> str:
    value = summary.get(name)
    if value is None:
        return "—"
    low, high = value["ci95"]
    return f"{value['mean']:.3f} [{low:.2f}, {high:.2f}]"


def _words(summary: dict) -> str:
    words = summary.get("words")
    return f"{words['median']:.0f} / {words['p90']:.0f}" if words else "—"


SHOWN = ("correct", "facts", "cites_gold", "answered", "hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "f1",
         "citations_in_gold", "verbatim")


def to_markdown(report: dict) -> str:
    """Tables per regime (modes as rows), then every miss of the hybrid system."""
    lines = [f"# emhqa evaluation (generator `{report['generator']}`, k={report['k']}, dev split: {report['split']})",
             "", "Means with bootstrap 95% intervals. `correct`: answered, citing a gold section and containing "
             "every key-fact group (dev), citing a gold section (lookup, leave-one-out), or refused "
             "(near-topic, off-topic). `facts`: share of key-fact groups in the answer; `cites_gold`: a "
             "citation in a gold section; `citations_in_gold`: share of the answer's citations in a gold "
             "section; `answered`: share not refused; `verbatim`: share of answer sentences found word for "
             "word in the quote they cite; words: median / p90 of answered answers without markers; "
             "p50/p95 ms: time of one ask, every mode timed alike as a new question in a warm process "
             "(model loaded, the question's caches emptied).", ""]
    for regime, modes in report["regimes"].items():
        lines += [f"## {regime}", "", "| mode | n | " + " | ".join(SHOWN) + " | words | p50 ms | p95 ms |",
                  "|" + "---|" * (len(SHOWN) + 5)]
        for mode, summary in modes.items():
            cells = " | ".join(_cell(summary, name) for name in SHOWN)
            lat = summary["latency_ms"]
            lines.append(f"| {mode} | {summary['n']} | {cells} | {_words(summary)} | {lat['p50']:.1f} "
                         f"| {lat['p95']:.1f} |")
        lines.append("")
    lines += [_feedback_line(report), ""]
    misses = [q for q in report["questions"] if q["mode"] == "hybrid" and not q["scores"].get("correct")]
    lines += ["## Misses of the hybrid system", ""]
    lines += [f"- `{q['id']}` ({q['regime']}) {q['question']!r}: "
              + ("abstained" if q["abstained"] else
                 f"cited {', '.join(c['section'] for c in q['citations'])}: {q['answer'][:160]!r}")
              for q in misses] or ["none"]
    return "\n".join(lines) + "\n"


def to_table(report: dict) -> str:
    """A compact terminal table of the headline figures."""
    names = ("correct", "facts", "cites_gold", "answered", "hit@1", "hit@5", "mrr")
    header = (f"{'regime':<16}{'mode':<9}{'n':>4}" + "".join(f"{n:>11}" for n in names)
              + f"{'words':>9}{'p50 ms':>9}")
    lines = [header, "-" * len(header)]
    for regime, modes in report["regimes"].items():
        for mode, s in modes.items():
            values = "".join(f"{s[n]['mean']:>11.3f}" if n in s else f"{'—':>11}" for n in names)
            words = f"{s['words']['median']:>9.0f}" if "words" in s else f"{'—':>9}"
            lines.append(f"{regime:<16}{mode:<9}{s['n']:>4}{values}{words}{s['latency_ms']['p50']:>9.1f}")
    return "\n".join(lines + [_feedback_line(report)])


def _feedback_line(report: dict) -> str:
    feedback = report.get("feedback") or {}
    if not feedback.get("file"):
        return "Chat feedback: off"
    return (f"Chat feedback: {feedback['wrong']} answer(s) marked wrong, {feedback['helpful']} helpful "
            f"({feedback['file']})")


def sentence_examples(qa, items: Sequence[Item]) -> tuple[list[dict[str, float]], list[int], list[int]]:
    """The sentence model's training examples from answerable ``items``: for every part of the question
    as answered (a follow-up's standalone form) and every sentence of its retrieved passages, the
    features, the label (in a gold section and holding a key fact) and the item's number (its group)."""
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    groups: list[int] = []
    for n, item in enumerate(items):
        answer = qa.ask(item.question, history=item.history)  # its standalone form and passages
        passages = answer.passages
        query = qa.analyzer.analyze(answer.answered_as)
        facts = [fold(alternative) for group in item.facts for alternative in group]
        for part in query.parts:
            allowed = qa.evidence.allowed(query, passages, part)
            for sentence, features in qa.evidence.candidates(part, passages, allowed):
                chunk = passages[sentence.passage].chunk
                text = fold(sentence.sentence.text)
                rows.append(features)
                labels.append(int((chunk.source, chunk.section) in item.gold and any(f in text for f in facts)))
                groups.append(n)
    return rows, labels, groups


def tune_sentences(qa, save_to: Path | None = None, folds: int = 5) -> tuple[dict, dict[str, "SentenceModel"]]:
    """Fit the sentence model on the tuning questions (dev and conversation follow-ups; near-topic ones
    as questions no sentence answers), install it in ``qa`` and optionally save it. Also returns, for
    each of those questions, a model fitted without the fold it is in: abstention is fitted on the
    probabilities those give (cross-fitting), because a model is surer of the questions it was fitted
    on than it will be of new ones."""
    from sklearn.model_selection import GroupKFold

    from .sentence_model import fit

    items = [i for i in load_gold(qa, ("dev", "follow-up", "near-topic", "follow-up-near"), split="tune").items
             if i.facts or not i.answerable]
    rows, labels, groups = sentence_examples(qa, items)
    held_out: dict[str, SentenceModel] = {}
    for kept, left_out in GroupKFold(folds).split(rows, labels, groups):
        model = fit([rows[i] for i in kept], [labels[i] for i in kept], [groups[i] for i in kept])
        held_out.update({items[groups[i]].id: model for i in left_out})
    model = fit(rows, labels, groups)
    qa.evidence.model = model
    qa.forget_questions()
    summary = {"tuning_questions": len(items), "sentences": len(rows), "positive": sum(labels)}
    if save_to:
        model.save(save_to, {"fitted_on": "eval/dev.jsonl and eval/conversations.jsonl, split=tune", **summary})
    return summary, held_out


def _asked_with(qa, item: Item, model: "SentenceModel | None") -> Answer:
    """``item`` asked with the sentence model ``model`` in place of the installed one (when given)."""
    if model is None:
        return qa.ask(item.question, history=item.history)
    installed, qa.evidence.model = qa.evidence.model, model
    qa.forget_questions()
    try:
        return qa.ask(item.question, history=item.history)
    finally:
        qa.evidence.model = installed
        qa.forget_questions()


def tune_abstention(qa, save_to: Path | None = None, held_out: dict[str, "SentenceModel"] | None = None) -> dict:
    """Fit the abstention model on the tuning halves of the dev questions and the conversations'
    follow-ups only (answerable or not), then pick the threshold that answers the most answerable
    questions correctly among those that refuse every off-topic question and ``NEAR_REFUSAL_TARGET`` of
    the near-topic ones (the most near-topic refusals if none reaches it); optionally save it.
    ``held_out``: the sentence model to answer each question with (``tune_sentences``'s cross-fitted ones;
    the installed one for the others)."""
    from .abstention import AbstentionModel, fit

    items = load_gold(qa, ("dev", "follow-up", *UNANSWERABLE), split="tune").items
    saved, qa.abstention = qa.abstention, AbstentionModel({}, 60.0)  # answer everything: see each answer
    try:
        answers = [_asked_with(qa, item, (held_out or {}).get(item.id)) for item in items]
    finally:
        qa.abstention = saved
    rows = [a.details.features for a in answers]
    correct = [score(item, a)["correct"] for item, a in zip(items, answers)]
    model = fit(rows, [int(item.answerable) for item in items])
    probabilities = [model.probability(row) for row in rows]

    def shares(threshold: float) -> dict[str, float]:
        rule = AbstentionModel(model.weights, model.bias, threshold)

        def share(regimes: tuple[str, ...], good) -> float:
            chosen = [(p, c) for item, p, c in zip(items, probabilities, correct) if item.regime in regimes]
            return sum(good(p, c) for p, c in chosen) / len(chosen) if chosen else 1.0
        return {"correct": share(("dev", "follow-up"), lambda p, c: not rule.abstains(p) and c),
                "near_refused": share(("near-topic", "follow-up-near"), lambda p, c: rule.abstains(p)),
                "off_refused": share(("off-topic",), lambda p, c: rule.abstains(p))}

    def value(threshold: float) -> float:
        s = shares(threshold)
        if s["off_refused"] < 1.0:
            return -2.0
        return s["correct"] if s["near_refused"] >= NEAR_REFUSAL_TARGET else s["near_refused"] - 1.0

    chosen = max(sorted(set(probabilities)), key=value)
    # Halfway to the next lower probability: the same split of the tuning questions, but a question
    # that scored exactly the chosen value is not flipped by float noise in a later build.
    threshold = (chosen + max((p for p in probabilities if p < chosen), default=0.0)) / 2
    model = AbstentionModel(model.weights, model.bias, threshold)
    summary = {"tuning_questions": len(items), "answerable": sum(i.answerable for i in items),
               "threshold": threshold, **shares(threshold)}
    if save_to:
        model.save(save_to, {"fitted_on": "eval/dev.jsonl and eval/conversations.jsonl, split=tune", **summary})
    return summary
