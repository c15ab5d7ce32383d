"""The corpus folder: a manifest of documents (title, kind, publisher) and their untouched files."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .parsers import PARSERS, parse
from .types import Section

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
KINDS = tuple(PARSERS)
MAX_FILE_BYTES = 5_000_000


@dataclass(frozen=True)
class Document:
    source: str  # the file name: the citation id
    title: str
    kind: str
    publisher: str | None
    text: str

    def sections(self) -> list[Section]:
        return parse(self.kind, self.text, self.source)


@dataclass(frozen=True)
class Corpus:
    """The documents that could be read, and the files skipped with the reason for each."""

    documents: tuple[Document, ...]
    skipped: dict[str, str]
    hashes: dict[str, str]  # sha256 of every file the build depends on, manifest included

    def document(self, source: str) -> Document:
        for doc in self.documents:
            if doc.source == source:
                return doc
        raise KeyError(source)

    @property
    def texts(self) -> dict[str, str]:
        return {doc.source: doc.text for doc in self.documents}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(corpus_dir: Path) -> dict[str, dict]:
    path = corpus_dir / MANIFEST
    if not path.is_file():
        raise CorpusError(f"no corpus manifest at {path}: create it (see README, 'Adding documents')")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"corpus manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, dict):
        raise CorpusError(f"corpus manifest {path} must map file names to entries")
    return entries


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """Hashes of the manifest and of every file it names: the fingerprint an index is built from."""
    hashes = {MANIFEST: sha256((corpus_dir / MANIFEST).read_bytes())}
    for name in sorted(read_manifest(corpus_dir)):
        path = corpus_dir / name
        hashes[name] = sha256(path.read_bytes()) if path.is_file() else "missing"
    return hashes


def _problem(path: Path, entry: object) -> str | None:
    """Why a manifest entry cannot be indexed, or None when it can."""
    if not isinstance(entry, dict) or not entry.get("title") or entry.get("kind") not in KINDS:
        return f"manifest entry needs a title and a kind out of {', '.join(KINDS)}"
    if not path.is_file():
        return "listed in the manifest but the file is missing"
    size = path.stat().st_size
    if size == 0:
        return "empty file"
    if size > MAX_FILE_BYTES:
        return f"file too large ({size} bytes, limit {MAX_FILE_BYTES})"
    data = path.read_bytes()
    if b"\x00" in data:
        return "binary file (contains NUL bytes)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    return None


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every document the manifest names; skip (and say why) what cannot be indexed."""
    entries = read_manifest(corpus_dir)
    documents, skipped = [], {}
    for name, entry in sorted(entries.items()):
        path = corpus_dir / name
        problem = _problem(path, entry)
        if problem:
            skipped[name] = problem
            log.warning("skipping corpus file %s: %s", name, problem)
            continue
        text = path.read_bytes().decode("utf-8")
        documents.append(Document(name, entry["title"], entry["kind"], entry.get("publisher"), text))
    listed = set(entries) | {MANIFEST}
    for path in sorted(corpus_dir.iterdir()):
        if path.is_file() and path.name not in listed and not path.name.startswith("."):
            skipped[path.name] = "not listed in corpus/manifest.json (add it with `emhqa add`)"
            log.warning("skipping corpus file %s: not listed in the manifest", path.name)
    return Corpus(tuple(documents), skipped, corpus_hashes(corpus_dir))


def _write_manifest(corpus_dir: Path, entries: dict[str, dict]) -> None:
    temporary = corpus_dir / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(corpus_dir / MANIFEST)


def add_document(corpus_dir: Path, path: Path, title: str, kind: str, publisher: str | None = None,
                 replace: bool = False) -> str:
    """Copy a user's text or Markdown file into the corpus, byte for byte, and list it in the
    manifest; returns its citation id (the file name). Nothing changes when it cannot be indexed."""
    name = path.name
    entries = read_manifest(corpus_dir)
    if name == MANIFEST or name.startswith("."):
        raise CorpusError(f"{name!r} cannot be a corpus file name; rename the file")
    if (name in entries or (corpus_dir / name).exists()) and not replace:
        raise CorpusError(f"{name} is already in the corpus; pass --replace to replace it")
    entry = {"title": title, "kind": kind, "publisher": publisher}
    problem = _problem(path, entry)
    if problem:
        raise CorpusError(f"cannot add {path}: {problem}")
    (corpus_dir / name).write_bytes(path.read_bytes())
    _write_manifest(corpus_dir, {**entries, name: entry})
    return name


def remove_document(corpus_dir: Path, name: str) -> None:
    """Drop a document from the manifest and delete its file; its passages go at the next index."""
    entries = read_manifest(corpus_dir)
    if name not in entries:
        raise CorpusError(f"{name} is not in {corpus_dir / MANIFEST}")
    _write_manifest(corpus_dir, {key: value for key, value in entries.items() if key != name})
    (corpus_dir / name).unlink(missing_ok=True)
