"""Sentence embeddings from a local model; nothing is ever downloaded.

``base``: the ``Embedder`` contract, the query-vector cache and the model's local files;
``torch_backend``: sentence-transformers on torch; ``onnx_backend``: the same model on ONNX Runtime;
``factory``: ``shared_embedder``, one loaded model per process and setting.
"""
from __future__ import annotations

from .base import CachedQueries, Embedder, resolve_model
from .factory import BACKENDS, shared_embedder
from .onnx_backend import OnnxEmbedder
from .torch_backend import SentenceTransformerEmbedder

__all__ = ["BACKENDS", "CachedQueries", "Embedder", "OnnxEmbedder", "SentenceTransformerEmbedder", "resolve_model",
           "shared_embedder"]
