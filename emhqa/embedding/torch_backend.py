"""The model through sentence-transformers and torch (also what the ONNX export reads)."""
from __future__ import annotations

import numpy as np

from ..config import DEFAULT_MODEL
from ..errors import EmhqaError
from .base import CachedQueries, resolve_model


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
