"""A cheap fingerprint of the corpus folder and the index's current build (``Backend.stamp``: the
index folder's ``CURRENT``, or the build a Milvus alias names, published by any process), so that a
long-running process (the app) notices when either changed since it loaded them and loads them again;
and the index opened together with the fingerprint it answers for."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .config import Config
from .index import Index, Progress, open_backend, open_index, stat_line


def _folder_lines(folder: Path) -> list[str]:
    """One line per visible entry of ``folder`` (hidden names are locks and files being written)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(stat_line(entry.name, entry) for entry in entries if not entry.name.startswith("."))
    except OSError as error:
        return [f"{str(folder)!r} unreadable ({type(error).__name__})"]


def fingerprint(config: Config) -> str:
    """Changes whenever a corpus file or the corpus manifest is written, added, removed or replaced,
    or a new build of the index is published. It reads no file's contents: a few ``stat`` calls (and,
    for Milvus, one small request), cheap enough to check before every question."""
    return _digest(_folder_lines(config.corpus_dir), config)


def open_with_fingerprint(config: Config, *, rebuild: bool = False,
                          progress: Progress | None = None) -> tuple[Index, str]:
    """The index (``open_index``: built when missing or stale, or when ``rebuild``) and the fingerprint
    it answers for: the corpus as it was before opening, so that a corpus change made meanwhile shows at
    the next check, and the current build after it, which a build made here has replaced."""
    corpus = _folder_lines(config.corpus_dir)
    index = open_index(config, rebuild=rebuild, progress=progress)
    return index, _digest(corpus, config)


def _digest(corpus_lines: list[str], config: Config) -> str:
    lines = corpus_lines + [open_backend(config).stamp()]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
