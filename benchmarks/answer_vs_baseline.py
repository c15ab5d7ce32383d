"""Warm full extractive answer against the baseline's plain similarity search, each timed in its own
process (ONNX Runtime's worker threads would otherwise slow the other side down).

    python benchmarks/answer_vs_baseline.py            # both sides, then the ratio
    python benchmarks/answer_vs_baseline.py --side emhqa --repeats 3

Questions: every question of eval/dev.jsonl. Each question is answered after every cache that
remembers it (query embeddings, query analysis, sentence choice) is cleared, so each costs what a
new question costs; the loaded model and index are warm on both sides.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import baseline, questions, timed  # noqa: E402

from emhqa.config import Config  # noqa: E402


def emhqa_side(repeats: int) -> dict:
    import emhqa

    qa = emhqa.load(Config(index_dir=Path(tempfile.mkdtemp(prefix="emhqa-bench-")) / "index"))

    qs = questions()
    for q in qs:  # warm-up: first calls of every code path
        qa.ask(q)
    samples = [timed(qa.ask, qs, qa.forget_questions) for _ in range(repeats)]
    return {"full_answer": samples[-1], "runs": samples}


def baseline_side(repeats: int) -> dict:
    store, _ = baseline(Config().corpus_dir)
    qs = questions()
    for q in qs:
        store.similarity_search(q, k=5)
    samples = [timed(lambda q: store.similarity_search(q, k=5), qs) for _ in range(repeats)]
    return {"similarity_search": samples[-1], "runs": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["emhqa", "baseline", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.side != "both":
        side = emhqa_side if args.side == "emhqa" else baseline_side
        print(json.dumps(side(args.repeats)))
        return
    run = lambda side: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, __file__, "--side", side, "--repeats", str(args.repeats)],
        check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    ours, theirs = run("emhqa"), run("baseline")
    a, b = ours["full_answer"], theirs["similarity_search"]
    print(json.dumps({"queries": len(questions()), "emhqa_full_answer": a, "baseline_similarity_search": b,
                      "ratio_p50": round(a["p50_ms"] / b["p50_ms"], 2),
                      "ratio_p95": round(a["p95_ms"] / b["p95_ms"], 2)}, indent=2))


if __name__ == "__main__":
    main()
