"""The benchmark scripts run end to end at a tiny size (speed goals live in BENCHMARKS.md, not here)."""
from __future__ import annotations

import json
import subprocess
import sys

from emhqa.config import REPO_ROOT


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / script), *args],
                            capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_scale_benchmark_reports_recall_and_latency_per_method():
    rows = [json.loads(line) for line in run("scale.py", "--sizes", "1000", "60000", "--hnsw-up-to", "1000").splitlines()
            if line.startswith("{")]
    methods = {row["method"].split()[0] for row in rows}
    assert {"flat", "emhqa:", "HNSW32", "BM25"} <= methods
    assert all(row["p50_ms"] > 0 for row in rows)
    assert [r["recall@10"] for r in rows if r["method"].startswith("flat")] == [1.0, 1.0]


def test_the_latency_benchmark_reports_every_figure_in_quick_mode():
    report = json.loads(run("latency.py", "--quick"))
    assert report["help"]["seconds"] > 0 and report["cold_start_cli_ask"]["peak_rss_mb"] > 0
    assert set(report["warm_ms"]) >= {"emhqa retrieval (hybrid, k=5)", "emhqa full extractive answer"}
    assert report["throughput_answers_per_s"]["8 threads"] > 0


def test_the_conversation_benchmark_compares_the_same_questions_early_and_late():
    report = json.loads(run("conversation_turns.py", "--turns", "20", "--repeats", "1").splitlines()[-1])
    assert report["first_cycle_p50_ms"] > 0 and report["last_cycle_p50_ms"] > 0 and report["ratio_last_to_first"] > 0


def test_the_milvus_benchmark_compares_both_backends_and_milvus_index_types():
    rows = [json.loads(line) for line in run("milvus.py", "--questions", "3", "--sizes", "2000").splitlines()
            if line.startswith("{")]
    assert {row["backend"] for row in rows if "backend" in row} == {"embedded (FAISS + bm25s)", "Milvus Lite server"}
    assert all(row["answer"]["p50_ms"] > 0 for row in rows if "backend" in row)
    assert [row["recall@10"] for row in rows if "FLAT" == row.get("method", "").split(": ")[-1]] == [1.0]
