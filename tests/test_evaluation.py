import json
import re

import pytest

from emhqa.config import REPO_ROOT
from emhqa.evaluation import evaluate, load_gold, to_markdown
from emhqa.metrics import bootstrap_ci, exact_match, ndcg, rouge_l, token_f1

DEV = [json.loads(line) for line in (REPO_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
FLOORS = json.loads((REPO_ROOT / "eval" / "floors.json").read_text())


def words(text):
    return set(re.findall(r"\w+", text.lower()))


def test_paraphrases_are_real_rewordings():
    paraphrases = [r for r in DEV if r["kind"] == "paraphrase"]
    for row in paraphrases:
        a, b = words(row["question"]), words(row["faq"])
        assert len(a & b) / len(a | b) <= 0.5, row["question"]
    per_faq = {}
    for row in paraphrases:
        per_faq[row["faq"]] = per_faq.get(row["faq"], 0) + 1
    assert len(per_faq) == 14 and min(per_faq.values()) >= 2


def test_dev_set_has_unanswerable_questions_and_both_splits():
    assert sum(r["kind"] == "unanswerable" for r in DEV) >= 20
    assert {r["split"] for r in DEV} == {"tune", "report"}
    assert len({r["id"] for r in DEV}) == len(DEV)


def test_gold_sections_of_the_dev_set_exist(qa):
    known = {(c.source, c.section) for c in qa.index.chunks}
    for item in load_gold(qa).items:
        assert set(item.gold) <= known, item.question


def test_metrics_follow_their_definitions():
    assert exact_match("The cat!", "cat") == 1.0
    assert token_f1("x b c", "b c d") == pytest.approx(2 / 3)
    assert token_f1("a b c", "b c d") == pytest.approx(0.8)  # articles are dropped
    assert rouge_l("x y z", "x z") == pytest.approx(0.8)
    assert ndcg(["a", "b"], {"b"}, 5) == pytest.approx(1 / 1.584962500721156)
    low, high = bootstrap_ci([0.0, 1.0] * 20)
    assert low < 0.5 < high


def test_headline_figures_stay_above_the_stored_floors(qa):
    report = evaluate(qa, modes=("hybrid",))
    drops = []
    for regime, floors in FLOORS.items():
        if regime.startswith("_"):
            continue
        summary = report["regimes"][regime]["hybrid"]
        drops += [f"{regime} {name}: {summary[name]['mean']:.3f} < {floor}"
                  for name, floor in floors.items() if summary[name]["mean"] < floor]
    assert not drops, drops
    assert report["unanswered_faq_questions"] == ["What is extramedullary disease in all?",
                                                  "Does extramedullary hematopoiesis cause splenomegaly?"]
    assert "## Misses of the hybrid system" in to_markdown(report)
