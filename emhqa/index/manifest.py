"""``manifest.json`` of a build as a typed record: what the build was made from and holds.

``IndexManifest.read`` and ``IndexManifest.write`` are the only code that reads or writes the file; a
manifest that is not valid JSON, has an unknown ``FORMAT`` or lacks a field is damage (IndexDamagedError);
one of an older format is outdated (IndexOutdatedError), which ``open_index`` rebuilds like a stale build.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from ..errors import IndexDamagedError, IndexOutdatedError

# The layout of a build folder and of this file. 2: sentence vectors in a FAISS file (1: a NumPy file).
FORMAT = 2
MANIFEST = "manifest.json"
T = TypeVar("T")


@dataclass(frozen=True)
class IndexedDocument:
    """A corpus document as the build recorded it."""

    source: str  # the file name: the citation id
    title: str
    kind: str
    publisher: str | None
    pages: tuple[int, ...] = ()  # a PDF's: where each page starts in its stored text
    # False: its chunks and sentences await their vectors (a large document indexed keyword-first; see
    # ``build_index``): dense search skips it and its sentences are embedded when an answer needs them.
    vectors: bool = True


@dataclass(frozen=True)
class IndexManifest:
    """What a build was made from (model, chunking, corpus hashes, library versions) and what it holds
    (documents, counts, the sha256 of every other file of the build)."""

    built_at: str
    model_id: str
    dimension: int
    max_chunk_chars: int
    chunking_version: int  # chunking.CHUNKING_VERSION of the code that made the chunks
    corpus: Mapping[str, str]  # sha256 of every corpus file the build depends on, the corpus manifest included
    skipped: Mapping[str, str]  # corpus files left out, with the reason for each
    documents: tuple[IndexedDocument, ...]
    chunk_count: int
    sentence_count: int
    embedded: int | None  # texts embedded for this build (None: a build from before this was recorded)
    reused: int  # texts whose vectors came from the previous build
    versions: Mapping[str, str]  # versions of emhqa and the libraries that made the build
    files: Mapping[str, str]  # sha256 of every other file of the build folder

    @cached_property  # derived once per loaded manifest, not on every answer that reads it
    def titles(self) -> dict[str, str]:
        """Source file -> document title."""
        return {d.source: d.title for d in self.documents}

    @cached_property
    def awaiting_vectors(self) -> frozenset[str]:
        """Source files indexed keyword-first, whose vectors a later build computes (``emhqa index``)."""
        return frozenset(d.source for d in self.documents if not d.vectors)

    @cached_property
    def pages(self) -> dict[str, tuple[int, ...]]:
        """Source file of a PDF -> where each of its pages starts in the stored text."""
        return {d.source: d.pages for d in self.documents if d.pages}

    def to_json(self) -> str:
        record = {"format": FORMAT, "built_at": self.built_at, "model_id": self.model_id, "dimension": self.dimension,
                  "chunking": {"max_chunk_chars": self.max_chunk_chars, "version": self.chunking_version},
                  "corpus": dict(self.corpus), "skipped": dict(self.skipped),
                  "documents": [asdict(d) for d in self.documents],
                  "counts": {"documents": len(self.documents), "chunks": self.chunk_count,
                             "sentences": self.sentence_count},
                  "embedded": {"computed": self.embedded, "reused": self.reused},
                  "versions": dict(self.versions), "files": dict(self.files)}
        return json.dumps(record, indent=2)

    def write(self, build: Path) -> None:
        (build / MANIFEST).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, build: Path) -> IndexManifest:
        """The manifest of the build folder ``build``; IndexDamagedError when it is missing or unusable."""
        path = build / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise IndexDamagedError(f"index manifest {path} is missing") from exc
        except OSError as exc:
            raise IndexDamagedError(f"index manifest {path} cannot be read ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise IndexDamagedError(f"index manifest {path} is not valid JSON") from exc
        return cls.parse(text, f"index manifest {path}")

    @classmethod
    def parse(cls, text: str, what: str) -> IndexManifest:
        """The manifest written as ``text`` (by ``to_json``); IndexDamagedError naming ``what`` when unusable."""
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise IndexDamagedError(f"{what} is not valid JSON") from exc
        try:
            written_as = typed(record, "format", int)
            if 0 < written_as < FORMAT:
                raise IndexOutdatedError(f"{what} has format {written_as}, older than this emhqa's {FORMAT}")
            if written_as != FORMAT:
                raise ValueError(f"format {written_as!r}")
            return cls._from_record(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexDamagedError(f"{what} has an unknown format ({exc})") from exc

    @classmethod
    def _from_record(cls, record: Any) -> IndexManifest:
        chunking, counts = typed(record, "chunking", dict), typed(record, "counts", dict)
        embedded = record.get("embedded", {"computed": None, "reused": 0})
        documents = tuple(IndexedDocument(typed(d, "source", str), typed(d, "title", str), typed(d, "kind", str),
                                          optional(d, "publisher", str),
                                          # builds from before PDFs were converted record no pages
                                          tuple(typed(d, "pages", list, _offsets)) if "pages" in d else (),
                                          _flag(d, "vectors", default=True))
                          for d in typed(record, "documents", list))
        return cls(built_at=typed(record, "built_at", str), model_id=typed(record, "model_id", str),
                   dimension=typed(record, "dimension", int),
                   max_chunk_chars=typed(chunking, "max_chunk_chars", int),
                   # Builds from before chunking versions were recorded have version 0: stale.
                   chunking_version=typed(chunking, "version", int) if "version" in chunking else 0,
                   corpus=typed(record, "corpus", dict, _text_map), skipped=typed(record, "skipped", dict, _text_map),
                   documents=documents, chunk_count=typed(counts, "chunks", int),
                   sentence_count=typed(counts, "sentences", int),
                   embedded=optional(embedded, "computed", int), reused=typed(embedded, "reused", int),
                   versions=typed(record, "versions", dict, _text_map), files=typed(record, "files", dict, _text_map))


def typed(record: Any, key: str, kind: type[T], check: Callable[[T], bool] | None = None) -> T:
    """``record[key]``, which must be of type ``kind`` (not a bool) and pass ``check``; ValueError otherwise."""
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool) or (check is not None and not check(value)):
        raise ValueError(f"field {key!r} holds {type(value).__name__} {str(value)[:40]!r}")
    return value


def optional(record: Any, key: str, kind: type[T]) -> T | None:
    """``record[key]``: None, or of type ``kind``."""
    return None if record[key] is None else typed(record, key, kind)


def _flag(record: Any, key: str, default: bool) -> bool:
    """``record[key]`` when present (it must be true or false), else ``default``."""
    value = record.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"field {key!r} holds {type(value).__name__} {str(value)[:40]!r}")
    return value


def _offsets(value: Iterable[Any]) -> bool:
    return all(type(v) is int for v in value)


def _text_map(value: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
