"""Scale: dense search (the index type emhqa picks by size) and BM25 on synthetic corpora.

    python benchmarks/scale.py --sizes 10000 100000 1000000

Vectors: unit vectors around 2,000 random topic centres (cosine about 0.8 to their centre), 384
dimensions like MiniLM. Text for BM25: 40 words per chunk drawn from a Zipf vocabulary of 50,000
words. Nothing is downloaded. Prints one JSON line per size and method, then a Markdown table.
"""
from __future__ import annotations

import argparse
import gc
import json
import time

import bm25s
import faiss
import numpy as np
import psutil

from emhqa.index import FLAT_LIMIT, dense_index
from latency import percentiles  # benchmarks/ is the script's folder

DIMENSION, TOPICS, QUERIES, K = 384, 2000, 200, 10
NOISE = 0.04  # per coordinate: a chunk's cosine to its topic centre is about 0.8


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(count: int, centres: np.ndarray, rng: np.random.Generator, chunk: int = 100_000) -> np.ndarray:
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for begin in range(0, count, chunk):
        n = min(chunk, count - begin)
        topic = rng.integers(0, len(centres), n)
        out[begin:begin + n] = unit(centres[topic] + rng.normal(0, NOISE, (n, DIMENSION)).astype(np.float32))
    return out


def timed_queries(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, dict]:
    """One query at a time, as the app asks them."""
    ids, samples = [], []
    for query in queries:
        started = time.perf_counter()
        ids.append(index.search(query[None, :], K)[1][0])
        samples.append((time.perf_counter() - started) * 1000)
    return np.array(ids), percentiles(samples)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))


def dense(size: int, rng: np.random.Generator, hnsw: bool, topics: int) -> list[dict]:
    centres = unit(rng.normal(size=(topics, DIMENSION)).astype(np.float32))
    vectors = clustered(size, centres, rng)
    queries = clustered(QUERIES, centres, rng)
    exact_index = faiss.IndexFlatIP(DIMENSION)
    exact_index.add(vectors)
    exact, exact_latency = timed_queries(exact_index, queries)
    rows = [{"size": size, "method": "flat (exact)", "recall@10": 1.0, **exact_latency,
             "index_mb": round(vectors.nbytes / 2**20, 1)}]
    before = rss_mb()
    started = time.perf_counter()
    chosen = dense_index(vectors)
    build = time.perf_counter() - started
    if size > FLAT_LIMIT:
        memory, default = round(rss_mb() - before, 1), chosen.nprobe
        for nprobe in sorted({32, 128, default, 2 * default}):
            chosen.nprobe = nprobe
            found, latency = timed_queries(chosen, queries)
            rows.append({"size": size, "method": f"emhqa: IVF{chosen.nlist} nprobe={nprobe}"
                         + (" (default)" if nprobe == default else ""), "recall@10": round(recall(found, exact), 4),
                         **latency, "build_s": round(build, 1), "index_mb": memory})
    del chosen
    if hnsw:
        started = time.perf_counter()
        graph = faiss.IndexHNSWFlat(DIMENSION, 32, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = 40
        graph.add(vectors)
        build = time.perf_counter() - started
        for ef in (32, 64, 128, 256):
            graph.hnsw.efSearch = ef
            found, latency = timed_queries(graph, queries)
            rows.append({"size": size, "method": f"HNSW32 efSearch={ef}", "recall@10": round(recall(found, exact), 4),
                         **latency, "build_s": round(build, 1)})
    return rows


def lexical(size: int, rng: np.random.Generator) -> dict:
    vocabulary = np.array([f"w{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.2, size=(size, 40)), 50_000) - 1
    before = rss_mb()
    started = time.perf_counter()
    corpus = [list(vocabulary[row]) for row in ranks]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build = time.perf_counter() - started
    del corpus
    gc.collect()
    samples = []
    for _ in range(QUERIES):
        terms = list(vocabulary[rng.integers(10, 5000, 4)])
        started = time.perf_counter()
        scores = retriever.get_scores(terms)
        np.argpartition(-scores, K)[:K]
        samples.append((time.perf_counter() - started) * 1000)
    return {"size": size, "method": "BM25 (bm25s, 4-word query, full scoring + top 10)", **percentiles(samples),
            "build_s": round(build, 1), "index_mb": round(rss_mb() - before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--hnsw-up-to", type=int, default=100_000,
                        help="also build an HNSW index (for comparison) up to this size; 1M takes ~8 min")
    parser.add_argument("--topics", type=int, default=TOPICS,
                        help="topic centres (more topics: fewer chunks per topic, a harder search)")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        rng = np.random.default_rng(size)
        for row in dense(size, rng, hnsw=size <= args.hnsw_up_to, topics=args.topics) + [lexical(size, rng)]:
            print(json.dumps(row), flush=True)
            rows.append(row)
        gc.collect()
    print(f"\nfaiss threads: {faiss.omp_get_max_threads()}, topics: {args.topics}\n")
    print("| chunks | method | recall@10 | p50 ms | p95 ms | build s | memory MB |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']:,} | {r['method']} | {r.get('recall@10', '')} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r.get('build_s', '')} | {r.get('index_mb', '')} |")


if __name__ == "__main__":
    main()
