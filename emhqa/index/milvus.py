"""The Milvus backend: builds kept as collections on a Milvus server (Milvus Lite's ``milvus-lite server``,
Standalone or Distributed) or in a Milvus Lite file, and searched there, so that several processes and
machines share one index.

A build is two collections, ``<alias>_b<stamp>`` (one row per chunk: its id, vector, JSON record and
its emhqa tokens in a BM25 text field; the manifest as the collection property ``emhqa.manifest``) and
``<that>_s`` (one row per sentence vector). The alias (``Config.store.collection``, ``emhqa`` by
default) names the current build: a build is written and loaded whole, then the alias is switched in
one call, so a reader sees the old build or the new one. The build before it is kept (a process still
answering from it goes on until it notices the switch), older ones are dropped.

Lexical search matches bm25s's: the text field holds ``emhqa.text.tokens`` separated by spaces (a
token that is not plain ASCII letters and digits is written as ``u_<hex of its UTF-8>``, which every
Milvus tokenizer keeps whole), with k1 1.5 and b 0.75; scores are divided by k1 + 1 to bm25s's Lucene
scale. Milvus Lite keeps BM25 statistics per segment: over a corpus stored in several segments its
scores differ from bm25s's.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..config import StoreSettings
from ..errors import IndexDamagedError, StoreError
from ..text import tokens
from ..types import Chunk
from .base import Backend, Index, sentence_offsets
from .manifest import IndexManifest
from .store import READ_ATTEMPTS, build_lock, chunk_from_record, chunk_record

MANIFEST_KEY = "emhqa.manifest"
K1, B = 1.5, 0.75  # bm25s's defaults
BATCH = 1000  # rows per insert and per query (a query returns at most 16,384)
log = logging.getLogger(__name__)
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its failures reach the user as StoreError lines

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _client(uri: str) -> Any:
    """One MilvusClient per URI and process (gRPC channels are thread-safe); StoreError when unreachable."""
    with _clients_lock:
        if uri not in _clients:
            try:
                from pymilvus import MilvusClient
            except ImportError as exc:
                raise StoreError(f"EMHQA_STORE names Milvus, but pymilvus is not installed ({exc}): "
                                 "pip install 'emhqa[milvus]', or unset EMHQA_STORE") from None
            try:
                _clients[uri] = MilvusClient(uri=uri, timeout=10)
            except Exception as exc:  # pymilvus raises MilvusException, and others from milvus-lite's start
                raise StoreError(f"cannot reach Milvus at {uri} ({_reason(exc)}): start it, fix EMHQA_STORE, "
                                 "or unset EMHQA_STORE to use the embedded index") from None
        return _clients[uri]


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "message", "") or exc or type(exc).__name__).split())[:200]


def lexical_text(terms: Sequence[str]) -> str:
    """Tokens as the BM25 text field holds them: separated by spaces, each one kept whole by any tokenizer."""
    return " ".join(t if t.isascii() and t.isalnum() else "u_" + t.encode("utf-8").hex() for t in terms)


def _not_allowed(allowed: np.ndarray) -> str:
    """A filter leaving out the chunks ``allowed`` masks ("" when all are allowed)."""
    excluded = np.flatnonzero(~allowed)
    return f"id not in {[int(i) for i in excluded]}" if len(excluded) else ""


class MilvusSearch:
    """``base.Search`` answered by one build's chunk collection."""

    def __init__(self, client: Any, collection: str):
        self.client, self.collection = client, collection

    def _hits(self, data: Any, field: str, metric: str, limit: int, where: str) -> list[tuple[int, float]]:
        """(id, score) best first, ties by id; Milvus Lite gives BM25 scores negated, a server positive."""
        try:
            found = self.client.search(self.collection, data=[data], anns_field=field, limit=limit, filter=where,
                                       search_params={"metric_type": metric}, output_fields=["id"])
        except Exception as exc:
            raise StoreError(f"Milvus search in {self.collection!r} failed ({_reason(exc)}); if the index was "
                             "rebuilt meanwhile, ask again") from None
        hits = [(int(hit["id"]), abs(float(hit["distance"])) if metric == "BM25" else float(hit["distance"]))
                for hit in found[0]]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))

    def dense(self, query: np.ndarray, depth: int, allowed: np.ndarray) -> list[int]:
        if depth < 1:
            return []
        return [i for i, _ in self._hits(query.astype(np.float32).tolist(), "vector", "IP", depth,
                                         _not_allowed(allowed))]

    def lexical(self, terms: Sequence[str], depth: int, allowed: np.ndarray) -> list[int]:
        if not terms or depth < 1:
            return []
        # Twice as deep, so that ties at the cut are settled by id as bm25s's stable order does.
        hits = self._hits(lexical_text(terms), "sparse", "BM25", 2 * depth, _not_allowed(allowed))
        return [i for i, score in hits if score > 0][:depth]

    def lexical_scores(self, terms: Sequence[str], ids: Sequence[int]) -> list[float]:
        if not terms or not ids:
            return [0.0] * len(ids)
        found = dict(self._hits(lexical_text(terms), "sparse", "BM25", len(ids), f"id in {[int(i) for i in ids]}"))
        return [found.get(int(i), 0.0) / (K1 + 1) for i in ids]


class MilvusBackend(Backend):
    """Builds in one Milvus, read through an alias; ``lock_dir`` holds the build lock (a file lock:
    builds from processes on one machine take turns; see docs/deploy.md for several machines)."""

    def __init__(self, settings: StoreSettings, lock_dir: Path):
        self.settings, self.lock_dir = settings, lock_dir
        self.alias = settings.collection

    def __str__(self) -> str:
        return str(self.settings)

    @property
    def client(self) -> Any:
        return _client(self.settings.uri)

    @contextmanager
    def lock(self) -> Iterator[None]:
        with build_lock(self.lock_dir):
            self._current()  # before any work: an unreachable Milvus or a foreign collection stops the build
            yield

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.method(...)``; StoreError naming ``what`` failed and the fix when Milvus refuses it."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self}: {what} failed ({_reason(exc)}); check that Milvus is running and "
                             "writable, or unset EMHQA_STORE to use the embedded index") from None

    def _current(self) -> str | None:
        """The build collection the alias names (None: never built); StoreError when the name is taken
        by something emhqa did not make."""
        if self.alias in self._call("listing aliases", "list_aliases").get("aliases", []):
            return str(self._call("reading the alias", "describe_alias", self.alias)["collection_name"])
        if self._call("listing collections", "has_collection", self.alias):
            raise StoreError(f"{self}: a collection named {self.alias!r} exists that emhqa did not make; drop it, "
                             "or name another collection in EMHQA_STORE (milvus://host:port/name)")
        return None

    def stamp(self) -> str:
        try:
            return f"milvus {self.settings.uri} {self.alias} -> {self._current()}"
        except StoreError as error:
            return f"milvus {self.settings.uri} unreadable ({error})"

    # -- reading ----------------------------------------------------------------------------------

    def load(self) -> Index | None:
        """The build the alias names; when another process switches the alias and drops that build
        mid-read, the new one is read (up to ``READ_ATTEMPTS`` builds)."""
        name, attempts = self._current(), 1
        while True:
            if name is None:
                return None
            try:
                return self._load(name)
            except (IndexDamagedError, StoreError):
                newer = self._current()
                if newer is None or newer == name or attempts == READ_ATTEMPTS:
                    raise
                name, attempts = newer, attempts + 1

    def _load(self, name: str) -> Index:
        properties = self._call("reading the build", "describe_collection", name).get("properties", {})
        if MANIFEST_KEY not in properties:
            raise StoreError(f"{self}: the alias names collection {name!r}, which emhqa did not make (it has no "
                             f"{MANIFEST_KEY}); drop the alias, or name another collection in EMHQA_STORE")
        manifest = IndexManifest.parse(properties[MANIFEST_KEY], f"the manifest of Milvus collection {name!r}")
        rows = self._rows(name, manifest.chunk_count, ["id", "vector", "record"])
        try:
            chunks = tuple(chunk_from_record(row["record"]) for row in rows)
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexDamagedError(f"Milvus collection {name!r} holds an unreadable chunk ({exc})") from None
        vectors = np.array([row["vector"] for row in rows], dtype=np.float32).reshape(len(rows), manifest.dimension)
        sentences = self._rows(f"{name}_s", manifest.sentence_count, ["id", "vector"])
        sentence_vectors = np.array([row["vector"] for row in sentences],
                                    dtype=np.float32).reshape(len(sentences), manifest.dimension)
        offsets = sentence_offsets(chunks)
        if [c.id for c in chunks] != list(range(len(chunks))) or offsets[-1] != len(sentence_vectors):
            raise IndexDamagedError(f"Milvus collection {name!r} is inconsistent (vector and chunk counts differ)")
        return Index(manifest, chunks, vectors, sentence_vectors, offsets, MilvusSearch(self.client, name))

    def _rows(self, name: str, count: int, fields: list[str]) -> list[dict]:
        """Rows 0 to ``count`` - 1 of a collection, by id; IndexDamagedError when some are missing."""
        rows: list[dict] = []
        for start in range(0, count, BATCH):
            rows += self._call("reading the build", "query", name, filter=f"id >= {start} and id < {start + BATCH}",
                               output_fields=fields, limit=BATCH)
        rows.sort(key=lambda row: row["id"])
        if [row["id"] for row in rows] != list(range(count)):
            raise IndexDamagedError(f"Milvus collection {name!r} holds {len(rows)} of its {count} rows")
        return rows

    # -- writing ----------------------------------------------------------------------------------

    def publish(self, chunks: Sequence[Chunk], vectors: np.ndarray, sentence_vectors: np.ndarray,
                manifest: IndexManifest) -> Index:
        name = f"{self.alias}_b{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}_{time.time_ns() % 10**6}"
        previous = self._current()
        try:
            self._create(name, self._chunk_schema(manifest.dimension), "sparse", {MANIFEST_KEY: manifest.to_json()})
            self._insert(name, [{"id": c.id, "vector": v.tolist(), "record": chunk_record(c),
                                 "lexical": lexical_text(tokens(c.embed_text))} for c, v in zip(chunks, vectors)])
            self._create(f"{name}_s", self._sentence_schema(manifest.dimension), None, {})
            self._insert(f"{name}_s", [{"id": i, "vector": v.tolist()} for i, v in enumerate(sentence_vectors)])
            index = self._load(name)
            verb = "alter_alias" if previous is not None else "create_alias"
            self._call("switching the alias", verb, collection_name=name, alias=self.alias)
        except BaseException:
            self._drop(name)
            raise
        for other in self._builds():
            if other not in (name, previous):
                self._drop(other)
        return index

    def _builds(self) -> list[str]:
        names = self._call("listing collections", "list_collections")
        return sorted({n[:-2] if n.endswith("_s") else n for n in names if n.startswith(f"{self.alias}_b")})

    def _drop(self, name: str) -> None:
        for collection in (name, f"{name}_s"):
            try:
                self.client.drop_collection(collection)
            except Exception as exc:  # left behind, dropped with the next build
                log.warning("could not drop Milvus collection %s (%s)", collection, _reason(exc))

    def _chunk_schema(self, dimension: int) -> Any:
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("record", DataType.JSON)
        schema.add_field("lexical", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["lexical"],
                                     output_field_names=["sparse"]))
        return schema

    def _sentence_schema(self, dimension: int) -> Any:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        return schema

    def _create(self, name: str, schema: Any, sparse: str | None, properties: dict[str, str]) -> None:
        """A collection with an exact inner-product index on ``vector`` (and BM25 on ``sparse``), loaded."""
        params = self.client.prepare_index_params()
        params.add_index("vector", index_type="FLAT", metric_type="IP")
        if sparse:
            params.add_index(sparse, index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                             params={"bm25_k1": K1, "bm25_b": B})
        self._call("creating a collection", "create_collection", name, schema=schema, index_params=params,
                   properties=properties)

    def _insert(self, name: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), BATCH):
            self._call("writing the build", "insert", name, rows[start:start + BATCH])
        self._call("writing the build", "flush", name)
        self._call("loading the build", "load_collection", name)

