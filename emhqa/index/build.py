"""Building an index from the corpus, and opening the current one: built when missing, rebuilt when stale."""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path

import numpy as np
from filelock import FileLock

from ..chunking import CHUNKING_VERSION, chunk_sections
from ..config import DEFAULT_CHUNK_CHARS, Config
from ..corpus import Corpus, corpus_hashes, load_corpus
from ..embedding import Embedder, shared_embedder
from ..errors import IndexDamagedError, IndexOutdatedError, IndexWriteError
from ..types import Chunk
from .base import Backend, Index
from .factory import open_backend
from .manifest import IndexedDocument, IndexManifest

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
BACKGROUND_LOG = "background.log"  # in the index folder: the output of `emhqa index` run in the background


def build_index(config: Config, embedder: Embedder, progress: Progress | None = None, *,
                complete: bool = False) -> Index:
    """Parse, chunk, embed and publish a new build to ``config``'s backend (it becomes the current
    one in one step); returns it loaded.

    Keyword first: once ``config.embed_now_chars`` characters of new text have been embedded, the
    documents left (a large upload) are indexed without vectors: keyword search finds them at once, and
    their sentences are embedded when an answer needs them, until a ``complete`` build (``emhqa index``)
    embeds them. A complete build embeds before it takes the build lock, so that corpus changes made
    meanwhile are not held up."""
    backend = open_backend(config)
    if complete:
        config.index_dir.mkdir(parents=True, exist_ok=True)
    # One completion at a time: a second one then finds the vectors made and embeds nothing.
    with FileLock(config.index_dir / ".complete.lock") if complete else nullcontext():
        extra = _embedded_ahead(config, embedder, backend, progress) if complete else {}
        with backend.lock():
            return _build(config, embedder, backend, progress, complete, extra)


def _embedded_ahead(config: Config, embedder: Embedder, backend: Backend,
                    progress: Progress | None) -> dict[str, np.ndarray]:
    """Text -> vector of the documents the current build indexed keyword-first (empty when none),
    embedded before the build lock is taken."""
    current = _loadable(backend)
    if current is None or not current.manifest.awaiting_vectors:
        return {}
    known = _reusable_vectors(current, embedder.model_id)
    missing = [t for t in _texts(_chunks(load_corpus(config.corpus_dir), config)) if t not in known]
    (progress or log.info)(f"embedding {len(missing)} texts of the documents indexed keyword-first")
    return dict(zip(missing, _embed(embedder, missing, {})))


def _build(config: Config, embedder: Embedder, backend: Backend, progress: Progress | None, complete: bool,
           extra: dict[str, np.ndarray]) -> Index:
    """``build_index``'s work, holding ``backend.lock()``; ``extra``: vectors embedded before it was taken."""
    say = progress or (lambda message: log.info(message))
    say("reading corpus")
    corpus = load_corpus(config.corpus_dir)
    chunks = _chunks(corpus, config)
    previous = _reusable_vectors(_loadable(backend), embedder.model_id)
    known = {**previous, **extra}
    waiting = _keyword_first(chunks, known, None if complete else config.embed_now_chars)
    texts = _texts(c for c in chunks if c.source not in waiting)
    computed = len({t for t in texts if t not in previous})
    sentences = sum(len(c.sentences) for c in chunks)
    say(f"embedding {computed} new texts ({len(chunks)} chunks and {sentences} sentences in all; "
        f"{len(texts) - computed} reused from the previous build"
        + (f"; {len(waiting)} large document(s) indexed keyword-first" if waiting else "") + ")")
    vectors = _embed(embedder, texts, known)
    chunk_vectors, sentence_vectors = _placed(chunks, waiting, vectors, embedder.dimension)
    manifest = IndexManifest(
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), model_id=embedder.model_id, dimension=embedder.dimension,
        max_chunk_chars=config.max_chunk_chars, chunking_version=CHUNKING_VERSION, corpus=corpus.hashes,
        skipped=corpus.skipped,
        documents=tuple(IndexedDocument(d.source, d.title, d.kind, d.publisher, d.pages, d.source not in waiting)
                        for d in corpus.documents),
        chunk_count=len(chunks), sentence_count=sentences, embedded=computed, reused=len(texts) - computed,
        versions=_versions(), files={})
    index = backend.publish(chunks, chunk_vectors, sentence_vectors, manifest)
    say(f"index built: {len(chunks)} chunks from {len(corpus.documents)} documents")
    return index


def _chunks(corpus: Corpus, config: Config) -> list[Chunk]:
    return chunk_sections(corpus.texts, [s for d in corpus.documents for s in d.sections()], config.max_chunk_chars)


def _texts(chunks: Iterable[Chunk]) -> list[str]:
    """What a build embeds for ``chunks``: every chunk's text, then every sentence, in order."""
    chunks = list(chunks)
    return [c.embed_text for c in chunks] + [s.text for c in chunks for s in c.sentences]


def _keyword_first(chunks: Sequence[Chunk], known: dict[str, np.ndarray], budget: int | None) -> frozenset[str]:
    """The documents, in corpus order, whose new text no longer fits in ``budget`` characters once the
    documents before them are embedded (None: no limit)."""
    if budget is None:
        return frozenset()
    new: dict[str, int] = {}
    for chunk in chunks:
        new[chunk.source] = new.get(chunk.source, 0) + sum(len(t) for t in _texts([chunk]) if t not in known)
    spent, waiting = 0, set()
    for source, size in new.items():
        if size and spent + size > budget:
            waiting.add(source)
        else:
            spent += size
    return frozenset(waiting)


def _placed(chunks: Sequence[Chunk], waiting: frozenset[str], vectors: np.ndarray,
            dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk vectors and sentence vectors in chunk order, from ``vectors`` (``_texts`` of the chunks
    not waiting, in order); zero rows for the chunks of documents indexed keyword-first."""
    embedded = np.array([c.source not in waiting for c in chunks], dtype=bool)
    chunk_rows = np.zeros((len(chunks), dimension), dtype=np.float32)
    chunk_rows[embedded] = vectors[:embedded.sum()]
    in_embedded = np.repeat(embedded, [len(c.sentences) for c in chunks])
    sentence_rows = np.zeros((len(in_embedded), dimension), dtype=np.float32)
    sentence_rows[in_embedded] = vectors[embedded.sum():]
    return chunk_rows, sentence_rows


def _loadable(backend: Backend) -> Index | None:
    """The current build, or None when there is none or it is damaged (a new build replaces it)."""
    try:
        return backend.load()
    except IndexDamagedError:
        return None


def _reusable_vectors(old: Index | None, model_id: str) -> dict[str, np.ndarray]:
    """Text -> vector from the build ``old`` when it is intact and made by the same model, so an update
    embeds only what changed; empty when there is nothing trustworthy to reuse. Documents indexed
    keyword-first have no vectors to reuse."""
    if old is None or old.manifest.model_id != model_id:
        return {}
    known: dict[str, np.ndarray] = {}
    for i, chunk in enumerate(old.chunks):
        if old.has_vectors[i]:
            known[chunk.embed_text] = old.vectors[i]
            known.update(zip((s.text for s in chunk.sentences), old.sentence_rows(i)))
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


def open_index(config: Config, embedder: Embedder | None = None, *, rebuild: bool = False, complete: bool = False,
               progress: Progress | None = None) -> Index:
    """The verified index of ``config`` (its model: ``shared_embedder(config)`` unless ``embedder`` is
    given); built when missing or asked for, rebuilt (with a warning) when stale, and when ``complete``
    and documents await their vectors (``build_index``). The library, the CLI and the app open the
    index only through it. A build that leaves documents keyword-first starts ``emhqa index`` in the
    background when ``config.background_index`` is on.

    A damaged index is never rebuilt silently: it raises IndexDamagedError naming the fix.
    """
    embedder = embedder or shared_embedder(config)
    if rebuild:
        return _rebuilt(config, embedder, progress, "a rebuild was asked for", complete=complete, forced=True)
    backend = open_backend(config)
    try:
        index = backend.load()
    except IndexOutdatedError as exc:
        log.warning("the index was written by an older emhqa (%s); rebuilding it", exc.problem)
        return _rebuilt(config, embedder, progress, "the index was written by an older emhqa", complete=complete)
    if index is None:
        log.warning("no index in %s yet; building it (this takes a minute)", backend)
        return _rebuilt(config, embedder, progress, "there is no index yet", complete=complete)
    reason = stale_reason(index.manifest, config, embedder.model_id)
    if reason:
        log.warning("the index is stale (%s); rebuilding it", reason)
        return _rebuilt(config, embedder, progress, f"the index is stale ({reason})", complete=complete)
    if complete and index.manifest.awaiting_vectors:
        return _rebuilt(config, embedder, progress, "documents await their vectors", complete=True)
    return index


def _rebuilt(config: Config, embedder: Embedder, progress: Progress | None, why: str, *, complete: bool = False,
             forced: bool = False) -> Index:
    """A new build, loaded; IndexWriteError (saying ``why`` it was needed) when the folder cannot be written.
    Unless ``forced`` or ``complete``, a fresh build that another process published while this one waited
    for the build lock is used instead (several app replicas that see one corpus change build once)."""
    backend = open_backend(config)
    try:
        if complete:
            index = build_index(config, embedder, progress, complete=True)
        else:
            with backend.lock():
                current = None if forced else _loadable(backend)
                if current is not None and stale_reason(current.manifest, config, embedder.model_id) is None:
                    return current
                index = _build(config, embedder, backend, progress, False, {})
    except OSError as exc:
        raise IndexWriteError(f"{why}, but the index folder {config.index_dir} cannot be written "
                              f"({exc.strerror or exc}: {exc.filename}). Make it writable, or set EMHQA_INDEX "
                              "to a writable folder, then run `emhqa index`") from exc
    waiting = ", ".join(sorted(index.manifest.awaiting_vectors))
    # The child reads its settings from the environment (Config.child_environment): with other chunking
    # settings than the default it would rebuild everything differently, and a Milvus Lite file serves
    # one process only, so it is not started then.
    if waiting and config.background_index and config.max_chunk_chars == DEFAULT_CHUNK_CHARS and config.store.shared:
        log.warning("%s: indexed for keyword search first (too large to embed at once); its vectors are being "
                    "computed in the background (log: %s)", waiting, _complete_in_background(config))
    elif waiting:
        log.warning("%s: indexed for keyword search first (too large to embed at once); run `emhqa index` to "
                    "compute its vectors", waiting)
    return index


def _complete_in_background(config: Config) -> Path:
    """Start ``emhqa index`` in a session of its own, so that it outlives this process: it embeds the
    documents indexed keyword-first and switches to the complete build (the app reloads it). Its
    output is appended to ``background.log`` in the index folder, whose path is returned."""
    path = config.index_dir / BACKGROUND_LOG
    with open(path, "ab") as output:
        subprocess.Popen([sys.executable, "-m", "emhqa", "index"], stdin=subprocess.DEVNULL, stdout=output,
                         stderr=subprocess.STDOUT, env=config.child_environment(),
                         start_new_session=True)
    return path
