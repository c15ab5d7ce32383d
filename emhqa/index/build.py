"""Building an index from the corpus, and opening the current one: built when missing, rebuilt when stale."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from importlib import metadata

import numpy as np

from ..chunking import CHUNKING_VERSION, chunk_sections
from ..config import Config
from ..corpus import corpus_hashes, load_corpus
from ..embedding import Embedder, shared_embedder
from ..errors import IndexDamagedError, IndexWriteError
from .base import Backend, Index
from .factory import open_backend
from .manifest import IndexedDocument, IndexManifest

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def build_index(config: Config, embedder: Embedder, progress: Progress | None = None) -> Index:
    """Parse, chunk, embed and publish a new build to ``config``'s backend (it becomes the current
    one in one step); returns it loaded."""
    backend = open_backend(config)
    with backend.lock():
        return _build(config, embedder, backend, progress)


def _build(config: Config, embedder: Embedder, backend: Backend, progress: Progress | None) -> Index:
    """``build_index``'s work, holding ``backend.lock()``."""
    say = progress or (lambda message: log.info(message))
    say("reading corpus")
    corpus = load_corpus(config.corpus_dir)
    sections = [s for d in corpus.documents for s in d.sections()]
    chunks = chunk_sections(corpus.texts, sections, config.max_chunk_chars)
    sentences = [s.text for c in chunks for s in c.sentences]
    known = _previous_vectors(backend, embedder.model_id)
    texts = [c.embed_text for c in chunks] + sentences
    computed = len({t for t in texts if t not in known})
    say(f"embedding {computed} new texts ({len(chunks)} chunks and {len(sentences)} sentences in all; "
        f"{len(texts) - computed} reused from the previous build)")
    vectors = _embed(embedder, texts, known)
    manifest = IndexManifest(
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), model_id=embedder.model_id, dimension=embedder.dimension,
        max_chunk_chars=config.max_chunk_chars, chunking_version=CHUNKING_VERSION, corpus=corpus.hashes,
        skipped=corpus.skipped,
        documents=tuple(IndexedDocument(d.source, d.title, d.kind, d.publisher, d.pages) for d in corpus.documents),
        chunk_count=len(chunks), sentence_count=len(sentences), embedded=computed, reused=len(texts) - computed,
        versions=_versions(), files={})
    index = backend.publish(chunks, vectors[:len(chunks)], vectors[len(chunks):], manifest)
    say(f"index built: {len(chunks)} chunks from {len(corpus.documents)} documents")
    return index


def _loadable(backend: Backend) -> Index | None:
    """The current build, or None when there is none or it is damaged (a new build replaces it)."""
    try:
        return backend.load()
    except IndexDamagedError:
        return None


def _previous_vectors(backend: Backend, model_id: str) -> dict[str, np.ndarray]:
    """Text -> vector from the current build when it is intact and made by the same model, so an
    update embeds only what changed; empty when there is nothing trustworthy to reuse."""
    old = _loadable(backend)
    if old is None or old.manifest.model_id != model_id:
        return {}
    known = dict(zip((c.embed_text for c in old.chunks), old.vectors))
    known.update(zip((s.text for c in old.chunks for s in c.sentences), old.sentence_vectors))
    return known


def _embed(embedder: Embedder, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    fresh = dict(zip(missing, embedder.encode(missing))) if missing else {}
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([fresh[t] if t in fresh else known[t] for t in texts]).astype(np.float32)


def _versions() -> dict[str, str]:
    out = {}
    for name in ("emhqa", "faiss-cpu", "sentence-transformers", "torch", "numpy", "bm25s", "pymilvus"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def stale_reason(manifest: IndexManifest, config: Config, model_id: str) -> str | None:
    """Why an intact index no longer matches the corpus or settings, or None when it does."""
    if manifest.model_id != model_id:
        return f"it was built with model {manifest.model_id!r}, not {model_id!r}"
    if manifest.max_chunk_chars != config.max_chunk_chars:
        return "the chunking settings changed"
    if manifest.chunking_version != CHUNKING_VERSION:
        return "emhqa's parsing or chunking code changed"
    current = corpus_hashes(config.corpus_dir)
    built = manifest.corpus
    changed = sorted(name for name in set(current) | set(built) if current.get(name) != built.get(name))
    if changed:
        return f"corpus files changed since the build: {', '.join(changed)}"
    return None


def open_index(config: Config, embedder: Embedder | None = None, *, rebuild: bool = False,
               progress: Progress | None = None) -> Index:
    """The verified index of ``config`` (its model: ``shared_embedder(config)`` unless ``embedder`` is
    given); built when missing or asked for, rebuilt (with a warning) when stale. The library, the CLI
    and the app open the index only through it.

    A damaged index is never rebuilt silently: it raises IndexDamagedError naming the fix.
    """
    embedder = embedder or shared_embedder(config)
    if rebuild:
        return _rebuilt(config, embedder, progress, "a rebuild was asked for", forced=True)
    backend = open_backend(config)
    index = backend.load()
    if index is None:
        log.warning("no index in %s yet; building it (this takes a minute)", backend)
        return _rebuilt(config, embedder, progress, "there is no index yet")
    reason = stale_reason(index.manifest, config, embedder.model_id)
    if reason:
        log.warning("the index is stale (%s); rebuilding it", reason)
        return _rebuilt(config, embedder, progress, f"the index is stale ({reason})")
    return index


def _rebuilt(config: Config, embedder: Embedder, progress: Progress | None, why: str, forced: bool = False) -> Index:
    """A new build, loaded; IndexWriteError (saying ``why`` it was needed) when the folder cannot be written.
    Unless ``forced``, a fresh build that another process published while this one waited for the build
    lock is used instead (several app replicas that see one corpus change build once)."""
    backend = open_backend(config)
    try:
        with backend.lock():
            current = None if forced else _loadable(backend)
            if current is not None and stale_reason(current.manifest, config, embedder.model_id) is None:
                return current
            return _build(config, embedder, backend, progress)
    except OSError as exc:
        raise IndexWriteError(f"{why}, but the index folder {config.index_dir} cannot be written "
                              f"({exc.strerror or exc}: {exc.filename}). Make it writable, or set EMHQA_INDEX "
                              "to a writable folder, then run `emhqa index`") from exc
