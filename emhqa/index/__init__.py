"""The persisted index: FAISS vectors plus JSON metadata, built atomically, verified before use.

``build``: building from the corpus, and ``open_index`` (built when missing, rebuilt when stale);
``store``: the folder layout, the build lock, atomic writes and verified loads; ``manifest``: the
typed ``manifest.json``; ``dense``: the FAISS index type and vector helpers.
"""
from __future__ import annotations

from .build import BACKGROUND_LOG, Progress, build_index, open_index, stale_reason
from .dense import FLAT_LIMIT, dense_index, index_vectors, ivf_nprobe, mean_direction, without_direction
from .manifest import FORMAT, IndexedDocument, IndexManifest
from .store import CURRENT, FILES, Index, build_lock, check_chunks, current_build, load_index

__all__ = ["BACKGROUND_LOG", "CURRENT", "FILES", "FLAT_LIMIT", "FORMAT", "Index", "IndexManifest", "IndexedDocument", "Progress",
           "build_index", "build_lock", "check_chunks", "current_build", "dense_index", "index_vectors", "ivf_nprobe",
           "load_index", "mean_direction", "open_index", "stale_reason", "without_direction"]
