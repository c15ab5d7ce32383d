"""The embedded backend (the default): builds in an index folder (``store``), searched in the process
(``search.EmbeddedSearch``: FAISS and bm25s)."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..types import Chunk
from .base import Backend, Index
from .dense import dense_index
from .manifest import IndexManifest
from .store import CURRENT, build_lock, current_pointer, load_current, load_index, stat_line, write_build


class EmbeddedBackend(Backend):
    """Builds in ``index_dir``: ``CURRENT`` names the build folder in use (see ``store``)."""

    def __init__(self, index_dir: Path):
        self.index_dir = index_dir

    def __str__(self) -> str:
        return str(self.index_dir)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with build_lock(self.index_dir):
            current_pointer(self.index_dir)  # before any work: a folder in its place stops the build
            yield

    def load(self) -> Index | None:
        return load_current(self.index_dir)

    def publish(self, chunks: Sequence[Chunk], vectors: np.ndarray, sentence_vectors: np.ndarray,
                manifest: IndexManifest) -> Index:
        return load_index(write_build(self.index_dir, chunks, dense_index(vectors), sentence_vectors, manifest))

    def stamp(self) -> str:
        return stat_line(CURRENT, self.index_dir / CURRENT)
