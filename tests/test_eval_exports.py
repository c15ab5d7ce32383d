"""`emhqa eval --trec DIR --per-question FILE` on the real corpus, with a three-question file."""
import json
import os
import subprocess
import sys

import pytest
import pytrec_eval

from emhqa.evaluation import evaluate, passage_id, read_questions, trec_run, write_per_question, write_trec
from tests.conftest import corpus_text

QUESTIONS = [
    {"id": "calcify", "question": "Do EMH masses calcify?", "facts": [["calcify"]],
     "gold": [{"source": "004_4a7d70616bb311fd.txt", "section": "Discussion"}]},
    {"id": "diagnosis", "question": "Which test confirms a diagnosis of EMH?", "kind": "paraphrase",
     "gold": [{"source": "001_717d4dda9e782864.txt", "section": "How is extramedullary hematopoiesis diagnosed?"}]},
    {"id": "france", "question": "What is the capital of France?", "refusal": "off"},
]


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    path = tmp_path_factory.mktemp("questions") / "mine.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in QUESTIONS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(qa, questions):
    return evaluate(qa, ("dev", "off-topic"), modes=("hybrid", "lexical"), questions=questions)


def test_trec_files_follow_the_format_and_trec_eval_agrees_with_the_report(qa, report, tmp_path):
    written = write_trec(report, qa.index.chunks, tmp_path)
    assert sorted(p.name for p in written) == ["qrels.txt", "run-hybrid.txt", "run-lexical.txt"]
    ids = {passage_id(c) for c in qa.index.chunks}
    for mode in ("hybrid", "lexical"):
        rows = [line.split() for line in (tmp_path / f"run-{mode}.txt").read_text().splitlines()]
        assert {len(r) for r in rows} == {6} and {r[1] for r in rows} == {"Q0"} and {r[5] for r in rows} == {f"emhqa-{mode}"}
        for row in (r for r in report["questions"] if r["mode"] == mode):  # BM25 finds nothing for France
            ranked = [r for r in rows if r[0] == row["id"]]
            assert [r[2] for r in ranked] == [p["id"] for p in row["passages"]] and set(r[2] for r in ranked) <= ids
            assert [int(r[3]) for r in ranked] == list(range(1, len(row["passages"]) + 1))
            scores = [float(r[4]) for r in ranked]
            assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)  # trec_eval sorts by score
        assert len(rows) == 15 - 5 * (mode == "lexical")
    qrels = [line.split() for line in (tmp_path / "qrels.txt").read_text().splitlines()]
    assert {len(r) for r in qrels} == {4} and {(r[1], r[3]) for r in qrels} == {("0", "1")}
    gold = {(c.source, c.section) for c in qa.index.chunks if passage_id(c) in {r[2] for r in qrels if r[0] == "calcify"}}
    assert gold == {("004_4a7d70616bb311fd.txt", "Discussion")} and "france" not in {r[0] for r in qrels}
    assert len([r for r in qrels if r[0] == "calcify"]) == sum(
        (c.source, c.section) == ("004_4a7d70616bb311fd.txt", "Discussion") for c in qa.index.chunks)

    with open(tmp_path / "qrels.txt") as q, open(tmp_path / "run-hybrid.txt") as r:
        measured = pytrec_eval.RelevanceEvaluator(pytrec_eval.parse_qrel(q), {"recip_rank"}).evaluate(
            pytrec_eval.parse_run(r))
    ours = {row["id"]: row["scores"]["mrr"] for row in report["questions"] if row["mode"] == "hybrid"
            and "mrr" in row["scores"]}
    assert set(measured) == set(ours) == {"calcify", "diagnosis"}
    assert all(measured[qid]["recip_rank"] == pytest.approx(ours[qid]) for qid in ours)


def test_tied_scores_keep_emhqas_order_and_ids_are_one_column():
    report = {"questions": [{"id": "my q", "mode": "dense", "passages": [
        {"id": "a", "score": 0.5}, {"id": "b", "score": 0.5}, {"id": "c", "score": 0.4999995}]}]}
    assert trec_run(report, "dense").splitlines() == [
        "my%20q Q0 a 1 0.500000 emhqa-dense", "my%20q Q0 b 2 0.499999 emhqa-dense",
        "my%20q Q0 c 3 0.499998 emhqa-dense"]


def test_per_question_jsonl_has_passage_text_and_ragas_names(qa, report, tmp_path):
    path = tmp_path / "questions.jsonl"
    write_per_question(report, qa.index.chunks, path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and [(r["id"], r["mode"]) for r in rows[:2]] == [("calcify", "hybrid"), ("calcify", "lexical")]
    for row in rows:
        assert row["user_input"] == row["question"] and row["response"] == row["answer"]
        assert row["retrieved_contexts"] == row["contexts"] == [p["text"] for p in row["passages"]]
        for p in row["passages"]:
            assert corpus_text(p["source"])[p["start"]:p["end"]] == p["text"] and p["id"] == f"{p['source']}:{p['start']}-{p['end']}"
        for c in row["citations"]:
            assert corpus_text(c["source"])[c["start"]:c["end"]] == c["quote"]
        assert {"abstained", "split", "kind", "gold", "facts", "scores", "reference", "ground_truth"} <= set(row)
    calcify, diagnosis, france = rows[0], rows[2], rows[4]
    assert calcify["facts"] == [["calcify"]] and calcify["gold"] == QUESTIONS[0]["gold"]
    assert calcify["reference_contexts"] and all(t in corpus_text("004_4a7d70616bb311fd.txt")
                                                 for t in calcify["reference_contexts"])
    assert diagnosis["kind"] == "paraphrase" and {"correct", "hit@5", "mrr"} <= set(diagnosis["scores"])
    assert france["abstained"] and france["reference_contexts"] == [] and france["scores"]["correct"]


def run_eval(*args):
    return subprocess.run([sys.executable, "-m", "emhqa", "eval", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ})


@pytest.mark.parametrize("option", ["--trec", "--per-question"])
def test_an_unwritable_export_is_named_before_the_run(questions, tmp_path, option):
    target = tmp_path / "missing" / "out"
    done = run_eval("--questions", str(questions), option, str(target))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"emhqa: cannot write {target / 'qrels.txt' if option == '--trec' else target}: "
                                                "its folder is missing or not writable"]
    done = run_eval("--questions", str(questions), "--per-question", str(tmp_path))
    assert done.returncode == 1 and done.stderr == f"emhqa: cannot write {tmp_path}: it is a folder\n"


def test_the_cli_writes_both_exports(built_config, questions, tmp_path):
    done = subprocess.run([sys.executable, "-m", "emhqa", "-q", "eval", "--questions", str(questions), "--trec",
                           str(tmp_path), "--per-question", str(tmp_path / "q.jsonl")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "EMHQA_INDEX": str(built_config.index_dir)})
    assert done.returncode == 0, done.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"qrels.txt", "run-hybrid.txt", "run-dense.txt", "run-lexical.txt",
                                                   "q.jsonl"}
    assert len((tmp_path / "q.jsonl").read_text().splitlines()) == 9


def test_a_question_id_names_one_question(tmp_path):
    path = tmp_path / "twice.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in (QUESTIONS[2], QUESTIONS[2])), encoding="utf-8")
    with pytest.raises(Exception, match="line 2: not a question row .*'france' is not"):
        read_questions(path)


def test_every_mode_is_timed_as_a_new_question(qa):
    qa.ask("Do EMH masses calcify?")
    qa.forget_questions()
    assert qa.analyzer.analyze.cache_info().currsize == qa.evidence.assess.cache_info().currsize == 0
    assert qa.encoder._query.cache_info().currsize == 0
