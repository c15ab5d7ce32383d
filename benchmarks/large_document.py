"""Adding one large document (issue 12): the time and memory of `emhqa add`, and `ask` before and after.

    python benchmarks/large_document.py                 # a 4.9 MB case report; add with keyword-first indexing
    python benchmarks/large_document.py --complete      # also time `emhqa index`, which embeds it (~20 min)

The document: Markdown sections of corpus sentences drawn at random (seeded) until it is just under the
5 MB limit on a corpus file. Everything runs on a copy of the corpus in a temporary folder, each step
in its own process: `emhqa index` (the five seed documents), `emhqa add` (wall time and peak memory from
/usr/bin/time), a cold `emhqa ask`, and the warm per-question time (`QA.ask` in a loaded process, caches
of earlier questions emptied before each) on the first 40 answerable dev questions, before and after.
The background completion is switched off (EMHQA_BACKGROUND_INDEX=off) so that it does not share the
cores with the timings; `--complete` times it as a separate step. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from emhqa.config import REPO_ROOT

EMHQA = [sys.executable, "-m", "emhqa"]
QUESTIONS = 40
WARM = """
import json, sys, time
import numpy as np
import emhqa
qa = emhqa.load()
samples = []
for question in json.loads(sys.argv[1]):
    qa.forget_questions()
    started = time.perf_counter()
    qa.ask(question)
    samples.append((time.perf_counter() - started) * 1000)
print(json.dumps({"p50_ms": round(float(np.percentile(samples, 50)), 1),
                  "p95_ms": round(float(np.percentile(samples, 95)), 1)}))
"""


def large_document(corpus: Path, size: int, seed: int = 0) -> str:
    """Sections of ten corpus sentences each, drawn at random, up to ``size`` bytes."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt")))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5 and "\n" not in s.strip()]
    rng, parts, total, number = random.Random(seed), ["# A long case series of extramedullary hematopoiesis\n"], 0, 0
    while True:
        number += 1
        section = f"\n## Patient {number}\n\n" + " ".join(rng.choice(sentences) for _ in range(10)) + "\n"
        if total + len(section.encode()) > size:
            return "".join(parts)
        parts.append(section)
        total += len(section.encode())


def timed(command: list[str], env: dict) -> dict:
    """Wall seconds and peak memory of one command (GNU time)."""
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *command], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {out.stderr[-2000:]}")
    seconds, kilobytes = re.findall(r"TIME ([\d.]+) (\d+)", out.stderr)[-1]
    return {"seconds": float(seconds), "peak_mb": round(int(kilobytes) / 1024)}


def warm(env: dict, questions: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", WARM, json.dumps(questions)], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=4_900_000)
    parser.add_argument("--complete", action="store_true", help="also time `emhqa index` embedding the document")
    args = parser.parse_args()
    rows = [json.loads(line) for line in (REPO_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
    questions = [r["question"] for r in rows if r.get("gold")][:QUESTIONS]
    ask = [*EMHQA, "ask", "What did the CT show in the 30-year-old man with beta thalassemia?"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copytree(REPO_ROOT / "corpus", work / "corpus")
        document = work / "series.md"
        document.write_text(large_document(REPO_ROOT / "corpus", args.bytes), encoding="utf-8")
        env = {**os.environ, "EMHQA_CORPUS": str(work / "corpus"), "EMHQA_INDEX": str(work / "index"),
               "EMHQA_BACKGROUND_INDEX": "off"}
        report: dict = {"document_bytes": document.stat().st_size, "questions": len(questions)}
        report["index_seed_corpus"] = timed([*EMHQA, "index"], env)
        report["cold_ask_before"] = timed(ask, env)
        report["warm_ask_before"] = warm(env, questions)
        report["add"] = timed([*EMHQA, "add", str(document), "--kind", "case", "--title", "A long case series"], env)
        report["cold_ask_after"] = timed(ask, env)
        report["warm_ask_after"] = warm(env, questions)
        if args.complete:
            report["complete_index"] = timed([*EMHQA, "index"], env)
            report["cold_ask_completed"] = timed(ask, env)
            report["warm_ask_completed"] = warm(env, questions)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
