"""``shared_embedder``: the configured backend's model, loaded once per process."""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from ..config import Config
from ..errors import EmhqaError
from .base import Embedder, resolve_model
from .onnx_backend import OnnxEmbedder
from .torch_backend import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")


def shared_embedder(config: Config | None = None) -> Embedder:
    """The embedding model of ``config`` (default ``Config()``): one loaded model per process for each
    model, backend and cache folder.

    ``onnx`` (``Config.embedding_backend``'s default) runs the same model with ONNX Runtime, exported
    once from the local files into ``Config.cache_dir``, and gives the same vectors about 4x faster on
    CPU; when it cannot be used, ``torch`` (sentence-transformers) is used with a warning.
    """
    config = config or Config()
    return _loaded(config.model, config.embedding_backend, config.cache_dir)


@lru_cache(maxsize=4)
def _loaded(model: str, backend: str, cache_dir: Path) -> Embedder:
    if backend not in BACKENDS:
        raise EmhqaError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        try:
            return OnnxEmbedder(*resolve_model(model), cache_dir)
        except Exception as exc:  # missing onnxruntime, unsupported model, export failure
            log.warning("ONNX embedding backend unavailable (%s); using torch", exc)
    return SentenceTransformerEmbedder(model)
