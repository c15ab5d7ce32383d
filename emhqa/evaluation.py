"""Evaluation harness: FAQ lookup, leave-one-out, dev paraphrase/case and unanswerable regimes,
scored offline for the hybrid retriever and its dense-only and BM25-only baselines."""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import REPO_ROOT
from .metrics import bootstrap_ci, exact_match, first_hit, ndcg, percentile, rouge_l, token_f1
from .parsers import faq_entries
from .retrieval import MODES
from .types import Answer

DEV_FILE = REPO_ROOT / "eval" / "dev.jsonl"
ALSO_ANSWERED_FILE = REPO_ROOT / "eval" / "faq_also_answered.json"
REGIMES = ("lookup", "loo", "dev", "unanswerable")
Key = tuple[str, str]  # (source, section)


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    regime: str
    gold: frozenset[Key] = frozenset()
    gold_answer: str | None = None
    hidden: Key | None = None  # a section kept out of retrieval (leave-one-out)
    split: str = "report"

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
    for doc in qa.index.manifest["documents"]:
        if doc["kind"] != "faq":
            continue
        text = qa.texts[doc["source"]]
        for entry in faq_entries(text):
            if entry.answer is None:
                unanswered.append(entry.question.text)
            else:
                pairs.append((doc["source"], entry.question.text, entry.answer.text))
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
    rows = [json.loads(line) for line in dev_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        if split and row["split"] != split:
            continue
        regime = "unanswerable" if row["kind"] == "unanswerable" else "dev"
        if regime in regimes:
            gold = frozenset((g["source"], g["section"]) for g in row["gold"])
            items.append(Item(row["id"], row["question"], regime, gold, answers.get(row.get("faq")),
                              split=row["split"]))
    return Gold(items, unanswered)


_MARKED = re.compile(r"(.+?)\s*\[(\d+)\]")


def faithfulness(answer: Answer) -> float | None:
    """Share of answer sentences found verbatim (white space folded) in the quote they cite."""
    quotes = {c.marker: " ".join(c.quote.split()) for c in answer.citations}
    claims = _MARKED.findall(answer.text)
    if not claims:
        return None
    supported = 0
    for text, marker in claims:
        quote = quotes.get(int(marker), "")
        pieces = [p for p in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if p]
        supported += all(p in quote or token_f1(p, quote) >= 0.9 for p in pieces)
    return supported / len(claims)


def score(item: Item, answer: Answer) -> dict:
    """Every metric of one answer to one item (None where it does not apply)."""
    ranked = [(p.chunk.source, p.chunk.section) for p in answer.passages]
    rank = first_hit(ranked, item.gold) if item.answerable else None
    cited = [(c.source, c.section) for c in answer.citations]
    row = {
        "abstained": answer.abstained,
        "correct": (answer.abstained if not item.answerable
                    else not answer.abstained and any(c in item.gold for c in cited)),
        "seconds": answer.details.get("seconds", 0.0),
    }
    if item.answerable:
        row.update({"hit@1": float(rank == 1), "hit@3": float(bool(rank and rank <= 3)),
                    "hit@5": float(bool(rank and rank <= 5)), "mrr": 1 / rank if rank else 0.0,
                    "ndcg@5": ndcg(ranked, set(item.gold), 5)})
    if item.answerable and not answer.abstained:
        row["citation_precision"] = sum(c in item.gold for c in cited) / len(cited) if cited else 0.0
        row["faithfulness"] = faithfulness(answer)
    if item.gold_answer and item.answerable:
        prediction = "" if answer.abstained else re.sub(r"\s*\[\d+\]", "", answer.text)
        row.update({"em": exact_match(prediction, item.gold_answer), "f1": token_f1(prediction, item.gold_answer),
                    "rouge_l": rouge_l(prediction, item.gold_answer)})
    return row


METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "em", "f1", "rouge_l", "citation_precision",
           "faithfulness", "answered", "correct")


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
             show_progress: bool = False) -> dict:
    """Ask every item in every retrieval mode; per-regime summaries and per-question rows."""
    gold = load_gold(qa, regimes, split=split)
    bar = _progress(len(gold.items) * len(modes), show_progress)
    per_question, grouped = [], {}
    for item in gold.items:
        for mode in modes:
            hidden = item.hidden
            exclude = (lambda c, h=hidden: (c.source, c.section) == h) if hidden else None
            answer = qa.ask(item.question, k=k, generator=generator, exclude=exclude, mode=mode)
            row = score(item, answer)
            grouped.setdefault(item.regime, {}).setdefault(mode, []).append(row)
            per_question.append({"id": item.id, "regime": item.regime, "mode": mode, "question": item.question,
                                 "gold": sorted(list(k) for k in item.gold), "gold_answer": item.gold_answer,
                                 "answer": answer.text, "abstained": answer.abstained,
                                 "citations": [c.to_dict() for c in answer.citations],
                                 "retrieved": [[p.chunk.source, p.chunk.section] for p in answer.passages],
                                 "scores": {n: v for n, v in row.items() if n not in ("abstained",)}})
            if bar:
                bar.update()
    if bar:
        bar.close()
    regimes_out = {regime: {mode: summarize(rows) for mode, rows in modes_rows.items()}
                   for regime, modes_rows in grouped.items()}
    return {"generator": generator or qa.default_generator, "k": k, "split": split or "all",
            "unanswered_faq_questions": gold.unanswered_faq, "regimes": regimes_out, "questions": per_question}


def _cell(summary: dict, name: str) -> str:
    value = summary.get(name)
    if value is None:
        return "—"
    low, high = value["ci95"]
    return f"{value['mean']:.3f} [{low:.2f}, {high:.2f}]"


def to_markdown(report: dict) -> str:
    """Tables per regime (modes as rows), then every miss of the hybrid system."""
    shown = ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "f1", "rouge_l", "citation_precision",
             "faithfulness", "answered", "correct")
    lines = [f"# emhqa evaluation (generator `{report['generator']}`, k={report['k']}, dev split: {report['split']})",
             "", "Means with bootstrap 95% intervals. `answered`: share not abstained; `correct`: answered with "
             "a gold-section citation (answerable) or abstained (unanswerable).", ""]
    for regime, modes in report["regimes"].items():
        lines += [f"## {regime}", "", "| mode | n | " + " | ".join(shown) + " | p50 ms | p95 ms |",
                  "|" + "---|" * (len(shown) + 4)]
        for mode, summary in modes.items():
            cells = " | ".join(_cell(summary, name) for name in shown)
            lat = summary["latency_ms"]
            lines.append(f"| {mode} | {summary['n']} | {cells} | {lat['p50']:.1f} | {lat['p95']:.1f} |")
        lines.append("")
    misses = [q for q in report["questions"] if q["mode"] == "hybrid" and not q["scores"].get("correct")]
    lines += ["## Misses of the hybrid system", ""]
    lines += [f"- `{q['id']}` ({q['regime']}) {q['question']!r}: "
              f"{'abstained' if q['abstained'] else 'cited ' + ', '.join(c['section'] for c in q['citations'])}"
              for q in misses] or ["none"]
    return "\n".join(lines) + "\n"


def to_table(report: dict) -> str:
    """A compact terminal table of the headline figures."""
    names = ("hit@1", "hit@3", "hit@5", "mrr", "f1", "answered", "correct")
    header = f"{'regime':<13}{'mode':<9}{'n':>4}" + "".join(f"{n:>10}" for n in names) + f"{'p50 ms':>9}"
    lines = [header, "-" * len(header)]
    for regime, modes in report["regimes"].items():
        for mode, s in modes.items():
            values = "".join(f"{s[n]['mean']:>10.3f}" if n in s else f"{'—':>10}" for n in names)
            lines.append(f"{regime:<13}{mode:<9}{s['n']:>4}{values}{s['latency_ms']['p50']:>9.1f}")
    return "\n".join(lines)


def tune_abstention(qa, save_to: Path | None = None) -> dict:
    """Fit the abstention model on the tuning half of the dev set only, pick the threshold that
    maximizes balanced accuracy there, and optionally save it (with provenance)."""
    from .abstention import AbstentionModel, fit

    items = load_gold(qa, ("dev", "unanswerable"), split="tune").items
    rows = [qa.ask(item.question).details["features"] for item in items]
    labels = [int(item.answerable) for item in items]
    model = fit(rows, labels)
    probabilities = [model.probability(row) for row in rows]

    def balanced(threshold: float) -> tuple[float, float]:
        has = [p >= threshold for p, y in zip(probabilities, labels) if y]
        no = [p < threshold for p, y in zip(probabilities, labels) if not y]
        return (sum(has) / len(has) + sum(no) / len(no)) / 2, sum(has) / len(has)

    threshold = max(sorted(set(probabilities)), key=lambda t: balanced(t))
    model = AbstentionModel(model.weights, model.bias, threshold)
    accuracy, answered = balanced(threshold)
    summary = {"tuning_questions": len(items), "answerable": sum(labels), "threshold": threshold,
               "balanced_accuracy": accuracy, "answerable_answered": answered}
    if save_to:
        model.save(save_to, {"fitted_on": "eval/dev.jsonl split=tune", **summary})
    return summary
