"""The index on disk: build folders switched by ``CURRENT``, each verified before it is read.

Layout of an index folder: ``CURRENT`` names the active build folder; a build folder holds
``manifest.json`` (``IndexManifest``: what it was built from, with the sha256 of every other file),
``chunks.jsonl``, ``dense.faiss`` (chunk vectors) and ``sentences.faiss`` (one vector per chunk sentence,
in order, in a flat FAISS index: the vectors are stored, not searched). A build is written into a staging folder, synced and renamed into place, then ``CURRENT`` is
rewritten atomically; one build at a time per folder (``build_lock``).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from filelock import FileLock

from ..corpus import sha256
from ..errors import IndexDamagedError
from ..parsers import GENERIC_TITLES
from ..types import Chunk, Span
from .base import Index, chunk_tokens, sentence_offsets
from .dense import flat_index, index_vectors
from .manifest import IndexManifest, typed
from .search import EmbeddedSearch

CURRENT = "CURRENT"
FILES = ("chunks.jsonl", "dense.faiss", "sentences.faiss")
READ_ATTEMPTS = 3  # builds a load may try while another process keeps swapping them


def build_lock(index_dir: Path) -> FileLock:
    """One build at a time per index folder, across processes (waits for the build in progress)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(index_dir / ".lock")


def write_build(index_dir: Path, chunks: Sequence[Chunk], dense: faiss.Index, sentence_vectors: np.ndarray,
                manifest: IndexManifest) -> Path:
    """Write a new build folder (``manifest``'s ``files`` hashes are filled in here), then switch
    ``CURRENT`` to it in one rename and remove the older builds. Call it holding ``build_lock``."""
    pointer = current_pointer(index_dir)
    build = index_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.time_ns() % 10**6}"
    with _staging(build.with_name(build.name + ".tmp")) as staging:
        with open(staging / "chunks.jsonl", "w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(json.dumps(chunk_record(chunk)) + "\n")
        faiss.write_index(dense, str(staging / "dense.faiss"))
        faiss.write_index(flat_index(sentence_vectors), str(staging / "sentences.faiss"))
        replace(manifest, files={name: sha256((staging / name).read_bytes()) for name in FILES}).write(staging)
        _fsync_dir(staging)
        staging.rename(build)
    _write_atomic(pointer, build.name)
    _remove_old_builds(index_dir, keep=build.name)
    return build


@contextmanager
def _staging(folder: Path) -> Iterator[Path]:
    """A new folder for a build in the making, removed again when the build fails."""
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def chunk_record(chunk: Chunk) -> dict:
    """A chunk as JSON data: its place, its text and its sentences' offsets (``chunk_from_record`` reads it)."""
    return {"id": chunk.id, "source": chunk.source, "section": chunk.section, "start": chunk.start,
            "end": chunk.end, "text": chunk.text, "sentences": [[s.start, s.end] for s in chunk.sentences]}


def _write_atomic(path: Path, content: str) -> None:
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def _fsync_dir(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.glob("build-*"):
        if path.name != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def current_build(index_dir: Path) -> Path | None:
    """The active build folder, or None when no index was ever built here."""
    name = _current_name(index_dir)
    return None if name is None else _build_folder(index_dir, name)


def _current_name(index_dir: Path) -> str | None:
    """The build folder name that ``CURRENT`` holds, or None when there is no ``CURRENT``."""
    pointer = current_pointer(index_dir)
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamagedError(f"{pointer} cannot be read as text ({exc})") from exc
    if not name.startswith("build-") or "/" in name or name.endswith(".tmp"):
        raise IndexDamagedError(f"{pointer} does not name a build folder")
    return name


def stat_line(name: str, path: Path | os.DirEntry) -> str:
    """Name, size, modification and change times and inode of one file (links followed): a line that
    changes when the file is written or replaced, read without opening it."""
    try:
        info = path.stat()
    except OSError as error:
        return f"{name!r} unreadable ({type(error).__name__})"
    return f"{name!r} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_ino}"


def current_pointer(index_dir: Path) -> Path:
    """The path of ``CURRENT``; IndexDamagedError when a folder is in its place (no build can replace it)."""
    pointer = index_dir / CURRENT
    if pointer.is_dir():
        raise IndexDamagedError(f"{pointer} is a folder, not the file naming the current build: remove it")
    return pointer


def _build_folder(index_dir: Path, name: str) -> Path:
    build = index_dir / name
    if not build.is_dir():
        raise IndexDamagedError(f"{index_dir / CURRENT} names {name}, which is not a build folder")
    return build


def load_index(build: Path) -> Index:
    """Verify every file's hash against the manifest, then read it; damage raises IndexDamagedError."""
    manifest = IndexManifest.read(build)
    for name in FILES:
        path = build / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexDamagedError(f"index file {path} is missing or unreadable ({exc.strerror})") from exc
        if sha256(data) != manifest.files.get(name):
            raise IndexDamagedError(f"index file {path} is damaged (its checksum does not match the manifest)")
    try:
        chunks = tuple(_read_chunks(build / "chunks.jsonl"))
        dense = faiss.read_index(str(build / "dense.faiss"))
        vectors = index_vectors(faiss.read_index(str(build / "sentences.faiss")))
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        raise IndexDamagedError(f"index in {build} cannot be read ({exc})") from exc
    offsets = sentence_offsets(chunks)
    if dense.ntotal != len(chunks) or len(vectors) != offsets[-1] or {dense.d, vectors.shape[1]} != {manifest.dimension}:
        raise IndexDamagedError(f"index in {build} is inconsistent (vector and chunk counts differ)")
    terms = chunk_tokens(chunks)
    return Index(manifest, chunks, index_vectors(dense), vectors, offsets, EmbeddedSearch(dense, terms), terms)


def load_current(index_dir: Path) -> Index | None:
    """The index ``CURRENT`` names, every file read from that one build folder (None: no index yet). A
    rebuild in another process may swap in a new build and remove the old one mid-read: then the new
    one is read (up to ``READ_ATTEMPTS`` builds, for rebuilds that follow each other faster than a load)."""
    name, attempts = _current_name(index_dir), 1
    while True:
        try:
            return None if name is None else load_index(_build_folder(index_dir, name))
        except IndexDamagedError:
            newer = _current_name(index_dir)
            if newer is None or newer == name or attempts == READ_ATTEMPTS:
                raise
            name, attempts = newer, attempts + 1


def _read_chunks(path: Path) -> Iterator[Chunk]:
    for line in path.read_text(encoding="utf-8").splitlines():
        yield chunk_from_record(json.loads(line))


def chunk_from_record(record: Any) -> Chunk:
    """The chunk ``chunk_record`` wrote; ValueError, KeyError or TypeError when ``record`` is not one."""
    start, text = typed(record, "start", int), typed(record, "text", str)
    spans = tuple(Span(s, e, text[s - start:e - start]) for s, e in typed(record, "sentences", list, _int_pairs))
    return Chunk(typed(record, "id", int), typed(record, "source", str), typed(record, "section", str),
                 start, typed(record, "end", int), text, spans)


def _int_pairs(value: Any) -> bool:
    """Whether ``value`` is a list of [start, end] integer pairs."""
    return all(isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, int) for n in pair) for pair in value)


def check_chunks(chunks: Sequence[Chunk], texts: dict[str, str]) -> None:
    """IndexDamagedError unless every chunk is numbered in order, is the text of its corpus file at
    its offsets, holds its sentences, and carries a section label the parsers could have given."""
    previous: Chunk | None = None
    for position, chunk in enumerate(chunks):
        new_section = previous is None or (previous.source, previous.section) != (chunk.source, chunk.section)
        problem = _chunk_problem(position, chunk, texts.get(chunk.source), new_section)
        if problem:
            raise IndexDamagedError(f"index chunk {position} ({chunk.source!r}) {problem}")
        previous = chunk


def _chunk_problem(position: int, chunk: Chunk, text: str | None, new_section: bool) -> str | None:
    """Why one chunk cannot be trusted, or None; ``text`` is its file's text (None: no such document)."""
    if text is None:
        return "names no document of the corpus"
    if chunk.id != position:
        return f"has id {chunk.id}"
    if not (0 <= chunk.start < chunk.end <= len(text) and text[chunk.start:chunk.end] == chunk.text):
        return f"is not the file's text at characters {chunk.start}-{chunk.end}"
    if not chunk.sentences or not all(chunk.start <= s.start < s.end <= chunk.end for s in chunk.sentences):
        return "has a sentence outside its text"
    if new_section and not _label_in_file(chunk.section, text, chunk.start):
        return f"has section label {chunk.section[:80]!r}, which the file does not give it"
    return None


def _label_in_file(label: str, text: str, before: int) -> bool:
    """Whether a section starting at ``before`` could carry ``label``: a generic label, or one written
    in the file ahead of the section (as it is, or in upper case)."""
    if not label.strip() or "\n" in label:
        return False
    return label in GENERIC_TITLES or any(text.rfind(form, 0, before) >= 0 for form in (label, label.upper()))
