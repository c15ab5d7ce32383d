"""The backend ``Config.store`` names: the embedded index folder (the default) or Milvus."""
from __future__ import annotations

from ..config import Config
from .base import Backend
from .embedded import EmbeddedBackend
from .milvus import MilvusBackend


def open_backend(config: Config) -> Backend:
    """Where ``config``'s index is kept; nothing is read or connected (pymilvus not even imported) until used."""
    if config.store.kind == "milvus":
        return MilvusBackend(config.store, config.index_dir)
    return EmbeddedBackend(config.index_dir)
