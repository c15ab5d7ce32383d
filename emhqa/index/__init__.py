"""The index: chunks, their vectors and their sentences' vectors, built from the corpus, published whole
and verified before use, kept by one of two backends.

``base``: the contract (``Index``, ``Search``, ``Backend``); ``factory``: the backend ``Config.store``
names; ``embedded``: the default, an index folder (``store``: the folder layout, the build lock, atomic
writes and verified loads; ``dense``: the FAISS index type and vector helpers; ``search``: FAISS and
bm25s in the process); ``milvus``: collections on a Milvus server or in a Milvus Lite file; ``build``:
building from the corpus, and ``open_index`` (built when missing, rebuilt when stale); ``manifest``:
the typed manifest every build records.
"""
from __future__ import annotations

from .base import Backend, Index, Search
from .build import BACKGROUND_LOG, Progress, build_index, open_index, stale_reason
from .dense import FLAT_LIMIT, dense_index, index_vectors, ivf_nprobe, mean_direction, without_direction
from .factory import open_backend
from .manifest import FORMAT, IndexedDocument, IndexManifest
from .store import CURRENT, FILES, build_lock, check_chunks, current_build, load_index, stat_line

__all__ = ["BACKGROUND_LOG", "CURRENT", "FILES", "FLAT_LIMIT", "FORMAT", "Backend", "Index", "IndexManifest", "IndexedDocument",
           "Progress", "Search", "build_index", "build_lock", "check_chunks", "current_build", "dense_index",
           "index_vectors", "ivf_nprobe", "load_index", "mean_direction", "open_backend", "open_index",
           "stale_reason", "stat_line", "without_direction"]
