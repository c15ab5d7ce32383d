"""The persisted index: FAISS vectors plus JSON metadata, built atomically, verified before use.

Layout of ``index/``: ``CURRENT`` names the active build folder; a build folder holds
``manifest.json`` (what it was built from, with the sha256 of every other file), ``chunks.jsonl``,
``dense.faiss`` (chunk vectors) and ``sentences.npy`` (one vector per chunk sentence, in order).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np
from filelock import FileLock

from .chunking import chunk_sections
from .config import Config
from .corpus import Corpus, corpus_hashes, load_corpus, sha256
from .embedding import Embedder
from .errors import IndexDamagedError, IndexWriteError
from .parsers import GENERIC_TITLES
from .types import Chunk, Span

log = logging.getLogger(__name__)

FORMAT = 1
# The code that decides what goes into an index: a change to any of these files makes it stale.
_BUILD_CODE = ("parsers.py", "chunking.py", "text.py", "corpus.py", "index.py")
CURRENT = "CURRENT"
FILES = ("chunks.jsonl", "dense.faiss", "sentences.npy")
READ_ATTEMPTS = 3  # builds a load may try while another process keeps swapping them
Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Index:
    """A loaded, verified index."""

    manifest: dict
    chunks: tuple[Chunk, ...]
    dense: faiss.Index
    sentence_vectors: np.ndarray  # rows follow the chunks' sentences in order
    sentence_offsets: np.ndarray  # chunk i's sentences are rows [offsets[i], offsets[i+1])

    def sentence_rows(self, chunk_id: int) -> np.ndarray:
        return self.sentence_vectors[self.sentence_offsets[chunk_id]:self.sentence_offsets[chunk_id + 1]]

    @property
    def titles(self) -> dict[str, str]:
        return {d["source"]: d["title"] for d in self.manifest["documents"]}


# Exact search while it is fast enough, an inverted-file index beyond. HNSW answered faster in the
# scale benchmark but took 6 times longer to build at 1M chunks (467 s against 73 s on 2 cores) and
# reached lower recall on near-tied data, and every corpus change rebuilds the index. 4*sqrt(n)
# lists with a tenth of them probed kept recall@10 >= 0.95 at 1M chunks (see BENCHMARKS.md, scale).
FLAT_LIMIT = 50_000


def ivf_nprobe(lists: int) -> int:
    """Lists searched per query: a tenth of them (at least 16)."""
    return max(16, lists // 10)


def dense_index(vectors: np.ndarray) -> faiss.Index:
    """An inner-product FAISS index over unit vectors, its type chosen by size: exact (flat) up to
    ``FLAT_LIMIT`` vectors, IVF with 4*sqrt(n) lists beyond (nprobe is saved with the index)."""
    count, dimension = vectors.shape
    index: faiss.Index
    if count <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = int(4 * np.sqrt(count))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(count, size=min(count, 40 * lists), replace=False)
        ivf.train(vectors[np.sort(sample)])
        ivf.nprobe = ivf_nprobe(lists)
        index = ivf
    if count:
        index.add(vectors)
    return index


def index_vectors(index: faiss.Index) -> np.ndarray:
    """Every stored vector, in id order (an IVF index first builds its id map)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return index.reconstruct_n(0, index.ntotal)


def mean_direction(vectors: np.ndarray) -> np.ndarray:
    """The unit mean of a set of vectors: the corpus's topic direction (zeros for none)."""
    if not len(vectors):
        return np.zeros(vectors.shape[-1], dtype=np.float32)
    centre = vectors.mean(axis=0)
    return (centre / (np.linalg.norm(centre) or 1.0)).astype(np.float32)


def without_direction(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``vectors`` (one or a matrix of rows) with their component along ``direction`` projected out."""
    return vectors - np.multiply.outer(vectors @ direction, direction)


def code_fingerprint() -> str:
    here = Path(__file__).parent
    return sha256(b"".join((here / name).read_bytes() for name in _BUILD_CODE))


def _versions() -> dict[str, str]:
    out = {}
    for name in ("emhqa", "faiss-cpu", "sentence-transformers", "torch", "numpy", "bm25s"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def build_lock(index_dir: Path) -> FileLock:
    """One build at a time per index folder, across processes (waits for the build in progress)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(index_dir / ".lock")


@contextmanager
def _staging(folder: Path) -> Iterator[Path]:
    """A new folder for a build in the making, removed again when the build fails."""
    folder.mkdir()
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _chunk_record(chunk: Chunk) -> dict:
    return {"id": chunk.id, "source": chunk.source, "section": chunk.section, "start": chunk.start,
            "end": chunk.end, "text": chunk.text, "sentences": [[s.start, s.end] for s in chunk.sentences]}


def build_index(config: Config, embedder: Embedder, progress: Progress | None = None) -> Path:
    """Parse, chunk, embed and write a new build, then switch ``CURRENT`` to it in one rename."""
    say = progress or (lambda message: log.info(message))
    with build_lock(config.index_dir):
        pointer = _pointer(config.index_dir)  # before any work: a folder in its place stops the build
        say("reading corpus")
        corpus = load_corpus(config.corpus_dir)
        sections = [s for d in corpus.documents for s in d.sections()]
        chunks = chunk_sections(corpus.texts, sections, config.max_chunk_chars)
        sentences = [s.text for c in chunks for s in c.sentences]
        known = _previous_vectors(config.index_dir, embedder.model_id)
        texts = [c.embed_text for c in chunks] + sentences
        computed = len({t for t in texts if t not in known})
        say(f"embedding {computed} new texts ({len(chunks)} chunks and {len(sentences)} sentences in all; "
            f"{len(texts) - computed} reused from the previous build)")
        vectors = _embed(embedder, texts, known)
        chunk_vectors, sentence_vectors = vectors[:len(chunks)], vectors[len(chunks):]
        dense = dense_index(chunk_vectors)

        build = config.index_dir / f"build-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.time_ns() % 10**6}"
        with _staging(build.with_name(build.name + ".tmp")) as staging:
            with open(staging / "chunks.jsonl", "w", encoding="utf-8") as out:
                for chunk in chunks:
                    out.write(json.dumps(_chunk_record(chunk)) + "\n")
            faiss.write_index(dense, str(staging / "dense.faiss"))
            np.save(staging / "sentences.npy", sentence_vectors, allow_pickle=False)
            manifest = _manifest(config, embedder, corpus, chunks, len(sentences), staging)
            manifest["embedded"] = {"computed": computed, "reused": len(texts) - computed}
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
            _fsync_dir(staging)
            staging.rename(build)
        _write_atomic(pointer, build.name)
        _remove_old_builds(config.index_dir, keep=build.name)
        say(f"index built: {len(chunks)} chunks from {len(corpus.documents)} documents")
        return build


def _previous_vectors(index_dir: Path, model_id: str) -> dict[str, np.ndarray]:
    """Text -> vector from the current build when it is intact and made by the same model, so an
    update embeds only what changed; empty when there is nothing trustworthy to reuse."""
    try:
        build = current_build(index_dir)
        old = load_index(build) if build is not None else None
    except IndexDamagedError:
        return {}
    if old is None or old.manifest.get("model_id") != model_id:
        return {}
    known = dict(zip((c.embed_text for c in old.chunks), index_vectors(old.dense)))
    known.update(zip((s.text for c in old.chunks for s in c.sentences), old.sentence_vectors))
    return known


def _embed(embedder: Embedder, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    fresh = dict(zip(missing, embedder.encode(missing))) if missing else {}
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([fresh[t] if t in fresh else known[t] for t in texts]).astype(np.float32)


def _manifest(config: Config, embedder: Embedder, corpus: Corpus, chunks: list[Chunk],
              sentence_count: int, folder: Path) -> dict:
    return {
        "format": FORMAT,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model_id": embedder.model_id,
        "dimension": embedder.dimension,
        "chunking": {"max_chunk_chars": config.max_chunk_chars},
        "code": code_fingerprint(),
        "corpus": corpus.hashes,
        "skipped": corpus.skipped,
        "documents": [{"source": d.source, "title": d.title, "kind": d.kind, "publisher": d.publisher}
                      for d in corpus.documents],
        "counts": {"documents": len(corpus.documents), "chunks": len(chunks), "sentences": sentence_count},
        "versions": _versions(),
        "files": {name: sha256((folder / name).read_bytes()) for name in FILES},
    }


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
    pointer = _pointer(index_dir)
    try:
        name = pointer.read_bytes().decode("utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamagedError(f"{pointer} cannot be read as text ({exc})") from exc
    if not name.startswith("build-") or "/" in name or name.endswith(".tmp"):
        raise IndexDamagedError(f"{pointer} does not name a build folder")
    return name


def _pointer(index_dir: Path) -> Path:
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


def read_manifest(build: Path) -> dict:
    try:
        manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexDamagedError(f"index manifest {build / 'manifest.json'} is missing") from exc
    except OSError as exc:
        raise IndexDamagedError(f"index manifest {build / 'manifest.json'} cannot be read ({exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexDamagedError(f"index manifest {build / 'manifest.json'} is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "files" not in manifest:
        raise IndexDamagedError(f"index manifest {build / 'manifest.json'} has an unknown format")
    return manifest


def stale_reason(manifest: dict, config: Config, model_id: str) -> str | None:
    """Why an intact index no longer matches the corpus or settings, or None when it does."""
    if manifest.get("model_id") != model_id:
        return f"it was built with model {manifest.get('model_id')!r}, not {model_id!r}"
    if manifest.get("chunking") != {"max_chunk_chars": config.max_chunk_chars}:
        return "the chunking settings changed"
    if manifest.get("code") != code_fingerprint():
        return "emhqa's parsing or chunking code changed"
    current = corpus_hashes(config.corpus_dir)
    built = manifest.get("corpus", {})
    changed = sorted(name for name in set(current) | set(built) if current.get(name) != built.get(name))
    if changed:
        return f"corpus files changed since the build: {', '.join(changed)}"
    return None


def load_index(build: Path) -> Index:
    """Verify every file's hash against the manifest, then read it; damage raises IndexDamagedError."""
    manifest = read_manifest(build)
    for name in FILES:
        path = build / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IndexDamagedError(f"index file {path} is missing or unreadable ({exc.strerror})") from exc
        if sha256(data) != manifest["files"].get(name):
            raise IndexDamagedError(f"index file {path} is damaged (its checksum does not match the manifest)")
    try:
        chunks = tuple(_read_chunks(build / "chunks.jsonl"))
        dense = faiss.read_index(str(build / "dense.faiss"))
        vectors = np.load(build / "sentences.npy", allow_pickle=False)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        raise IndexDamagedError(f"index in {build} cannot be read ({exc})") from exc
    offsets = np.cumsum([0] + [len(c.sentences) for c in chunks])
    if dense.ntotal != len(chunks) or len(vectors) != offsets[-1] or dense.d != manifest["dimension"]:
        raise IndexDamagedError(f"index in {build} is inconsistent (vector and chunk counts differ)")
    return Index(manifest, chunks, dense, vectors, offsets)


def _read_chunks(path: Path) -> Iterator[Chunk]:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        start, text = _typed(record, "start", int), _typed(record, "text", str)
        spans = tuple(Span(s, e, text[s - start:e - start]) for s, e in _typed(record, "sentences", list))
        yield Chunk(_typed(record, "id", int), _typed(record, "source", str), _typed(record, "section", str),
                    start, _typed(record, "end", int), text, spans)


def _typed(record: dict[str, Any], key: str, kind: type[T]) -> T:
    """``record[key]``, which must be of type ``kind`` (for sentences: a list of [start, end] integers)."""
    value = record[key]
    if not isinstance(value, kind) or (key == "sentences" and not _int_pairs(value)):
        raise ValueError(f"chunk field {key!r} holds {type(value).__name__} {str(value)[:40]!r}")
    return value


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


def open_index(config: Config, embedder: Embedder, rebuild: bool = False, progress: Progress | None = None) -> Index:
    """The verified index; built when missing or asked for, rebuilt (with a warning) when stale.

    A damaged index is never rebuilt silently: it raises IndexDamagedError naming the fix.
    """
    if rebuild:
        return _rebuilt(config, embedder, progress, "a rebuild was asked for")
    index = _load_current(config.index_dir)
    if index is None:
        log.warning("no index in %s yet; building it (this takes a minute)", config.index_dir)
        return _rebuilt(config, embedder, progress, "there is no index yet")
    reason = stale_reason(index.manifest, config, embedder.model_id)
    if reason:
        log.warning("the index is stale (%s); rebuilding it", reason)
        return _rebuilt(config, embedder, progress, f"the index is stale ({reason})")
    return index


def _load_current(index_dir: Path) -> Index | None:
    """The index ``CURRENT`` names, every file read from that one build folder. A rebuild in another
    process may swap in a new build and remove the old one mid-read: then the new one is read (up to
    ``READ_ATTEMPTS`` builds, for rebuilds that follow each other faster than a load)."""
    name, attempts = _current_name(index_dir), 1
    while True:
        try:
            return None if name is None else load_index(_build_folder(index_dir, name))
        except IndexDamagedError:
            newer = _current_name(index_dir)
            if newer is None or newer == name or attempts == READ_ATTEMPTS:
                raise
            name, attempts = newer, attempts + 1


def _rebuilt(config: Config, embedder: Embedder, progress: Progress | None, why: str) -> Index:
    """A new build, loaded; IndexWriteError (saying ``why`` it was needed) when the folder cannot be written."""
    try:
        return load_index(build_index(config, embedder, progress))
    except OSError as exc:
        raise IndexWriteError(f"{why}, but the index folder {config.index_dir} cannot be written "
                              f"({exc.strerror or exc}: {exc.filename}). Make it writable, or set EMHQA_INDEX "
                              "to a writable folder, then run `emhqa index`") from exc
