"""The FAISS index over chunk vectors, its type chosen by size, and the vector helpers search uses."""
from __future__ import annotations

import faiss
import numpy as np

# Exact search while it is fast enough, an inverted-file index beyond. HNSW answered faster in the
# scale benchmark but took 6 times longer to build at 1M chunks (467 s against 73 s on 2 cores) and
# reached lower recall on near-tied data, and every corpus change rebuilds the index. 4*sqrt(n)
# lists with a tenth of them probed kept recall@10 >= 0.95 at 1M chunks (see BENCHMARKS.md, scale).
FLAT_LIMIT = 50_000


def ivf_nprobe(lists: int) -> int:
    """Lists searched per query: a tenth of them (at least 16)."""
    return max(16, lists // 10)


def dense_index(vectors: np.ndarray) -> faiss.Index:
    """An inner-product FAISS index over unit vectors, its type chosen by size: exact (flat) up to
    ``FLAT_LIMIT`` vectors, IVF with 4*sqrt(n) lists beyond (nprobe is saved with the index)."""
    count, dimension = vectors.shape
    if count <= FLAT_LIMIT:
        return flat_index(vectors)
    lists = int(4 * np.sqrt(count))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(0).choice(count, size=min(count, 40 * lists), replace=False)
    ivf.train(vectors[np.sort(sample)])
    ivf.nprobe = ivf_nprobe(lists)
    ivf.add(vectors)
    return ivf


def flat_index(vectors: np.ndarray) -> faiss.IndexFlatIP:
    """``vectors`` (rows of one dimension) in an exact inner-product FAISS index: small dense indexes,
    and how a build stores its sentence vectors."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return index


def index_vectors(index: faiss.Index) -> np.ndarray:
    """Every stored vector, in id order (an IVF index first builds its id map)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return index.reconstruct_n(0, index.ntotal)


def mean_direction(vectors: np.ndarray) -> np.ndarray:
    """The unit mean of a set of vectors: the corpus's topic direction (zeros for none)."""
    if not len(vectors):
        return np.zeros(vectors.shape[-1], dtype=np.float32)
    centre = vectors.mean(axis=0)
    return (centre / (np.linalg.norm(centre) or 1.0)).astype(np.float32)


def without_direction(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``vectors`` (one or a matrix of rows) with their component along ``direction`` projected out."""
    return vectors - np.multiply.outer(vectors @ direction, direction)
