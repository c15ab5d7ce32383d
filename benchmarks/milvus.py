"""The Milvus backend against the embedded one: Milvus Lite's gRPC server (`milvus-lite server`, started
here on 127.0.0.1), not a Milvus cluster.

    python benchmarks/milvus.py                    # the real corpus's dev questions, then 100,000 chunks
    python benchmarks/milvus.py --questions 20 --sizes 5000   # quick

1. Answers: every dev question (`eval/dev.jsonl`) asked through `QA.ask` (extractive, k=5), each backend
   in its own process with the same model and questions; every question is asked once to warm up, then
   timed after `forget_questions()` (as `emhqa eval` times an ask). Also the retrieval step alone.
2. Search at scale: synthetic unit vectors (`scale.py`'s clustered data) in a Milvus collection per index
   type, 200 queries one at a time over gRPC: recall@10 against exact search (numpy) and p50/p95; the
   embedded index (`emhqa.index.dense_index`: FAISS, IVF beyond 50,000 chunks) on the same data.
Prints JSON lines, then Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from latency import percentiles  # benchmarks/ is the script's folder
from scale import DIMENSION, K, QUERIES, TOPICS, clustered, recall, timed_queries, unit

ROOT = Path(__file__).resolve().parents[1]


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from milvus_lite.cmdline import main; main()", "server",
                               "--data-dir", str(folder / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"milvus://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    raise SystemExit("milvus-lite server did not start")


def child(count: int) -> None:
    """In a process of its own: time every question's answer and retrieval with this process's backend."""
    from emhqa.config import Config
    from emhqa.pipeline import load

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
    questions = questions[:count]
    started = time.perf_counter()
    qa = load(Config())
    loaded = time.perf_counter() - started
    for question in questions:  # warm: the model, the store's connection, every code path
        qa.ask(question)
    answers, retrievals = [], []
    for question in questions:
        qa.forget_questions()
        started = time.perf_counter()
        qa.ask(question)
        answers.append((time.perf_counter() - started) * 1000)
        qa.forget_questions()
        started = time.perf_counter()
        qa.retriever.retrieve(question, 5)
        retrievals.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"questions": len(questions), "load_s": round(loaded, 2),
                      "answer": {**percentiles(answers), "mean_ms": round(float(np.mean(answers)), 3)},
                      "retrieval": {**percentiles(retrievals), "mean_ms": round(float(np.mean(retrievals)), 3)}}))


def answers(store: str, folder: Path, count: int) -> list[dict]:
    from emhqa.config import Config, StoreSettings
    from emhqa.embedding import shared_embedder
    from emhqa.index import build_index

    rows = []
    for name, value in (("embedded (FAISS + bm25s)", ""), ("Milvus Lite server", f"{store}/bench")):
        index_dir = folder / ("index-" + ("milvus" if value else "embedded"))
        build_index(Config(corpus_dir=ROOT / "corpus", index_dir=index_dir, store=StoreSettings.parse(value)),
                    shared_embedder())
        env = {**os.environ, "EMHQA_STORE": value, "EMHQA_INDEX": str(index_dir), "EMHQA_CORPUS": str(ROOT / "corpus"),
               "EMHQA_FEEDBACK": "off"}
        done = subprocess.run([sys.executable, __file__, "--child", str(count)], env=env, capture_output=True,
                              text=True, check=True)
        rows.append({"backend": name, **json.loads(done.stdout.splitlines()[-1])})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def milvus_search(client, name: str, vectors: np.ndarray, queries: np.ndarray, index: tuple[str, dict, dict]) -> dict:
    """Insert ``vectors`` into a new collection with index ``(type, build params, search params)``, query it."""
    kind, params, search = index
    client.create_collection(name, dimension=DIMENSION, metric_type="IP", auto_id=False, id_type="int",
                             vector_field_name="vector", primary_field_name="id")
    client.release_collection(name)
    client.drop_index(name, "vector")
    started = time.perf_counter()
    for begin in range(0, len(vectors), 2000):
        client.insert(name, [{"id": begin + i, "vector": v.tolist()} for i, v in enumerate(vectors[begin:begin + 2000])])
    client.flush(name)
    index_params = client.prepare_index_params()
    index_params.add_index("vector", index_type=kind, metric_type="IP", params=params)
    client.create_index(name, index_params)
    client.load_collection(name)
    client.search(name, data=[queries[0].tolist()], anns_field="vector", limit=K,
                  search_params={"metric_type": "IP", "params": search})  # the first search builds lazily
    build = time.perf_counter() - started
    found, samples = [], []
    for query in queries:
        started = time.perf_counter()
        hits = client.search(name, data=[query.tolist()], anns_field="vector", limit=K,
                             search_params={"metric_type": "IP", "params": search})[0]
        samples.append((time.perf_counter() - started) * 1000)
        found.append([hit["id"] for hit in hits])
    client.drop_collection(name)
    return {"found": np.array(found), "build_s": round(build, 1), **percentiles(samples)}


def scale(store: str, size: int) -> list[dict]:
    import faiss
    from pymilvus import MilvusClient

    from emhqa.index import dense_index

    rng = np.random.default_rng(size)
    centres = unit(rng.normal(size=(TOPICS, DIMENSION)).astype(np.float32))
    vectors, queries = clustered(size, centres, rng), clustered(QUERIES, centres, rng)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :K]
    started = time.perf_counter()
    embedded = dense_index(vectors)
    build = time.perf_counter() - started
    found, latency = timed_queries(embedded, queries)
    kind = "IVF" if isinstance(embedded, faiss.IndexIVF) else "flat"
    rows = [{"size": size, "method": f"embedded: FAISS {kind} (emhqa's choice)", "recall@10": round(recall(found, exact), 4),
             **latency, "build_s": round(build, 1)}]
    print(json.dumps(rows[-1]), flush=True)
    client = MilvusClient(uri=store.replace("milvus://", "http://"))
    lists = int(4 * np.sqrt(size))
    for kind, params, search in (("FLAT", {}, {}), ("HNSW", {"M": 16, "efConstruction": 64}, {"ef": 64}),
                                 ("IVF_FLAT", {"nlist": lists}, {"nprobe": max(16, lists // 10)})):
        result = milvus_search(client, f"scale_{kind.lower()}", vectors, queries, (kind, params, search))
        label = f"Milvus Lite server: {kind} {' '.join(f'{k}={v}' for k, v in {**params, **search}.items())}".strip()
        rows.append({"size": size, "method": label, "recall@10": round(recall(result.pop("found"), exact), 4),
                     **result})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10**6, help="the first N dev questions (default: all)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000], help="synthetic chunk counts")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        return child(args.child)
    with tempfile.TemporaryDirectory(prefix="emhqa-milvus-bench-") as temporary:
        server, store = start_server(Path(temporary))
        try:
            timings = answers(store, Path(temporary), args.questions)
            searches = [row for size in args.sizes for row in scale(store, size)]
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("\n| backend | questions | answer p50 / p95 / mean ms | retrieval p50 / p95 / mean ms | load s |\n"
          "|---|---|---|---|---|")
    for r in timings:
        a, s = r["answer"], r["retrieval"]
        print(f"| {r['backend']} | {r['questions']} | {a['p50_ms']} / {a['p95_ms']} / {a['mean_ms']} | "
              f"{s['p50_ms']} / {s['p95_ms']} / {s['mean_ms']} | {r['load_s']} |")
    print("\n| chunks | method | recall@10 | p50 ms | p95 ms | build s |\n|---|---|---|---|---|---|")
    for r in searches:
        print(f"| {r['size']:,} | {r['method']} | {r['recall@10']} | {r['p50_ms']} | {r['p95_ms']} | {r['build_s']} |")


if __name__ == "__main__":
    main()
