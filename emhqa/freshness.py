"""A cheap fingerprint of the corpus folder and the index's current build, so that a long-running
process (the app) notices when either changed since it loaded them and loads them again."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .config import Config
from .index import CURRENT


def _stat_line(name: str, path: Path | os.DirEntry) -> str:
    """Name, size, modification and change times and inode of one file (links followed)."""
    try:
        info = path.stat()
    except OSError as error:
        return f"{name!r} unreadable ({type(error).__name__})"
    return f"{name!r} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_ino}"


def _folder_lines(folder: Path) -> list[str]:
    """One line per visible entry of ``folder`` (hidden names are locks and files being written)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(_stat_line(entry.name, entry) for entry in entries if not entry.name.startswith("."))
    except OSError as error:
        return [f"{str(folder)!r} unreadable ({type(error).__name__})"]


def fingerprint(config: Config) -> str:
    """Changes whenever a corpus file or the corpus manifest is written, added, removed or replaced,
    or the index's ``CURRENT`` pointer is rewritten (a new build). It reads no file's contents: a
    few ``stat`` calls, cheap enough to check before every question."""
    lines = _folder_lines(config.corpus_dir) + [_stat_line(CURRENT, config.index_dir / CURRENT)]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
