"""emhqa side by side with the canonical LangChain RAG recipe: same machine, same queries, same model.

    python benchmarks/latency.py            # everything; --quick for a smoke run

Baseline: RecursiveCharacterTextSplitter(1000, 200) over the corpus files, HuggingFaceEmbeddings
with the same local MiniLM folder, a LangChain FAISS vector store, similarity_search(k=5).
Queries: the questions of eval/dev.jsonl, each embedded afresh (no query cache) unless noted.
Prints one JSON object with every figure; BENCHMARKS.md holds a run's output.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from emhqa.config import REPO_ROOT, Config

EMHQA = [sys.executable, "-m", "emhqa.cli"]


def percentiles(samples_ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(samples_ms, 50)), 3),
            "p95_ms": round(float(np.percentile(samples_ms, 95)), 3)}


def timed(call, items, before=None) -> dict:
    samples = []
    for item in items:
        if before:
            before()
        started = time.perf_counter()
        call(item)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def run_process(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"{command} failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def median_process(command: list[str], repeats: int, env: dict | None = None) -> dict:
    runs = [run_process(command, env) for _ in range(repeats)]
    return {"seconds": round(float(np.median([r[0] for r in runs])), 3),
            "peak_rss_mb": round(max(r[1] for r in runs), 1)}


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in (REPO_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]


BASELINE_COLD = """
import sys, warnings
warnings.simplefilter("ignore")
from pathlib import Path
from langchain_community.vectorstores import FAISS
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from emhqa.embedding import resolve_model
splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
docs = splitter.create_documents([p.read_text() for p in sorted(Path(sys.argv[1]).glob("*.txt"))])
store = FAISS.from_documents(docs, HuggingFaceEmbeddings(model_name=resolve_model("all-MiniLM-L6-v2")[0]))
print(store.similarity_search(sys.argv[2], k=5)[0].page_content[:80])
"""


def baseline(corpus: Path):
    """The canonical recipe, built in this process; returns (store, build seconds)."""
    warnings.simplefilter("ignore")
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from emhqa.embedding import resolve_model

    embeddings = HuggingFaceEmbeddings(model_name=resolve_model("all-MiniLM-L6-v2")[0])
    started = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    docs = splitter.create_documents([p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))])
    store = FAISS.from_documents(docs, embeddings)
    return store, time.perf_counter() - started


def throughput(qa, work: list[str], threads: int) -> float:
    qa.forget_questions()
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda q: qa.ask(q), work))
    return round(len(work) / (time.perf_counter() - started), 1)


def app_server_peak_rss(index_dir: Path) -> float | None:
    """Peak RSS (MB) of `streamlit run app.py` after a browser session asked one question."""
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    from playwright.sync_api import sync_playwright

    port = "8765"
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"),
                               "--server.headless", "true", "--server.port", port],
                              env={**os.environ, "EMHQA_INDEX": str(index_dir)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            for _ in range(120):
                try:
                    page.goto(f"http://127.0.0.1:{port}")
                    break
                except Exception:
                    time.sleep(0.5)
            box = page.get_by_test_id("stChatInputTextArea")
            box.wait_for(timeout=180_000)
            box.fill("Do EMH masses calcify?")
            box.press("Enter")
            page.get_by_text("characters", exact=False).first.wait_for(timeout=120_000)
            browser.close()
        status = Path(f"/proc/{server.pid}/status").read_text()
        return round(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024, 1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, no baseline, no app: a smoke run")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    work_dir = Path(tempfile.mkdtemp(prefix="emhqa-bench-"))
    config = Config(index_dir=work_dir / "index")
    env = {"EMHQA_INDEX": str(config.index_dir)}
    qs = questions()[:10] if args.quick else questions()
    report: dict = {"machine": {"cpus": os.cpu_count()}, "queries": len(qs)}

    # Child processes first, while this process is small: Linux carries a parent's peak RSS into a
    # forked child's maximum, so a large parent would inflate every child's figure.
    report["build_s"] = {"emhqa index, new process, full build": median_process([*EMHQA, "index"], 1, env)["seconds"],
                         "emhqa index --rebuild, corpus unchanged (vectors reused)":
                             median_process([*EMHQA, "index", "--rebuild"], repeats, env)["seconds"]}
    report["help"] = median_process([*EMHQA, "--help"], repeats * 2)
    report["cold_start_cli_ask"] = median_process([*EMHQA, "ask", qs[0]], repeats, env)
    report["cold_start_cli_ask_torch_backend"] = median_process([*EMHQA, "ask", qs[0]], repeats,
                                                                {**env, "EMHQA_EMBEDDING_BACKEND": "torch"})
    if not args.quick:
        report["cold_start_baseline"] = median_process([sys.executable, "-c", BASELINE_COLD, str(config.corpus_dir),
                                                        qs[0]], repeats)

    import emhqa
    from emhqa.embedding import shared_embedder
    from emhqa.index import build_index

    embedder = shared_embedder(config)
    started = time.perf_counter()
    build_index(config.with_(index_dir=work_dir / "in-process"), embedder)
    report["build_s"]["emhqa full build, model loaded"] = round(time.perf_counter() - started, 2)
    qa = emhqa.load(config)
    clear = qa.forget_questions  # query vectors, analyses and sentence choices: each ask costs a new question's
    for _ in range(2):  # warm-up; the second pass also leaves every question's embedding cached
        timed(qa.ask, qs)
    report["warm_ms"] = {
        "emhqa full answer, repeated question (cached embedding)": timed(qa.ask, qs),
        "emhqa retrieval (hybrid, k=5)": timed(lambda q: qa.retriever.retrieve(q, 5), qs, clear),
        "emhqa full extractive answer": timed(qa.ask, qs, clear),
    }
    report["throughput_answers_per_s"] = {f"{n} threads": throughput(qa, [f"{q} ({i})" for i in range(3) for q in qs], n)
                                          for n in (1, 2, 4, 8)}
    if not args.quick:
        from emhqa.pipeline import QA

        torch_embedder = shared_embedder(config.with_(embedding_backend="torch"))
        torch_qa = QA(config, qa.index, torch_embedder, qa.texts)
        report["warm_ms"]["emhqa full extractive answer, torch backend"] = timed(
            torch_qa.ask, qs, torch_qa.forget_questions)
        store, seconds = baseline(config.corpus_dir)
        report["build_s"]["baseline (split + embed + FAISS)"] = round(seconds, 2)
        report["warm_ms"]["baseline similarity_search(k=5)"] = timed(lambda q: store.similarity_search(q, k=5), qs)
        base = report["warm_ms"]["baseline similarity_search(k=5)"]
        report["ratios_emhqa_over_baseline"] = {
            name: {p: round(v[p] / base[p], 2) for p in ("p50_ms", "p95_ms")}
            for name, v in report["warm_ms"].items() if name.startswith("emhqa")}
        report["ratios_emhqa_over_baseline"]["cold start"] = round(
            report["cold_start_cli_ask"]["seconds"] / report["cold_start_baseline"]["seconds"], 2)
        report["ratios_emhqa_over_baseline"]["build"] = round(
            report["build_s"]["emhqa full build, model loaded"] / seconds, 2)
        report["app_server_peak_rss_mb"] = app_server_peak_rss(config.index_dir)
    print(json.dumps(report, indent=2))
    shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
