"""The corpus folder: a manifest of documents (title, kind, publisher) and their files.

One function, ``member_path``, decides what a corpus file is: a plain file name inside the folder.
Changes (``add_document``, ``remove_document``) take a lock shared across processes and write each
file under a unique temporary name, synced, before renaming it into place, so a change that fails
leaves the folder as it was. ``emhqa add`` stores text in its normal form (``normal_form``): that
stored file is what the index is built from and what citations quote. A PDF or HTML file is stored
as the text ``documents.convert`` makes of it (``report.md``), listed in the manifest with the file
itself kept beside it (``"original": "report.pdf"``) and, for a PDF, where each page starts
(``"pages"``).
"""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from .config import BUNDLED_CORPUS
from .documents import STORED_SUFFIX, convert, converts
from .errors import CorpusError
from .parsers import PARSERS, parse
from .text import normal_form
from .types import Section

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK = ".corpus.lock"
TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".emhqa-", ".tmp"  # files being written; hidden, never members
LOCK_TIMEOUT_S = 60
KINDS = tuple(PARSERS)
MAX_FILE_BYTES = 5_000_000
FILE_MODE = 0o644
# No folder part, no control characters, not hidden (so not '.', '..', the lock or a temporary file).
_PLAIN_NAME = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*")


@dataclass(frozen=True)
class Document:
    source: str  # the file name: the citation id
    title: str
    kind: str
    publisher: str | None
    text: str
    original: str | None = None  # the PDF or HTML file ``text`` was converted from, kept beside it
    pages: tuple[int, ...] = ()  # a PDF's: where each page starts in ``text`` (documents.Converted)

    def sections(self) -> list[Section]:
        return parse(self.kind, self.text, self.source)


@dataclass(frozen=True)
class Corpus:
    """The documents that could be read, and the files skipped with the reason for each."""

    documents: tuple[Document, ...]
    skipped: dict[str, str]
    hashes: dict[str, str]  # sha256 of every file the build depends on, manifest included

    def document(self, source: str) -> Document:
        """The document stored as ``source`` (KeyError if none). The library looks documents up by
        index instead; this stays as the public way to read one file's sections, which the parsing
        and corpus-safety tests use."""
        for doc in self.documents:
            if doc.source == source:
                return doc
        raise KeyError(source)

    @property
    def texts(self) -> dict[str, str]:
        return {doc.source: doc.text for doc in self.documents}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_plain_name(name: str) -> bool:
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: not text, so no citation id
        return False
    return size <= 255 and _PLAIN_NAME.fullmatch(name) is not None and name != MANIFEST


def member_path(corpus_dir: Path, name: str) -> Path:
    """The path of the corpus file ``name``, which must be a plain file name (UTF-8, at most 255 bytes,
    no folder part, not hidden, not the manifest) and not a symbolic link, so that it resolves inside
    the corpus folder. The manifest's entries, ``add``, ``remove`` and the index all ask it."""
    if not _is_plain_name(name):
        raise CorpusError(f"{name!r} is not a corpus file name: use a plain file name of at most 255 bytes "
                          f"(no folder part, not starting with '.', not {MANIFEST})")
    path = corpus_dir / name
    if path.is_symlink():
        raise CorpusError(f"{path} is a symbolic link; corpus files must be plain files, so delete the link")
    return path


def _is_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or mostly ASCII saved as UTF-16 (a NUL in nearly every other byte)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if len(data) < 2:
        return False
    low, high = sorted(half.count(0) / len(half) for half in (data[0::2], data[1::2]))
    return low < 0.1 and high > 0.9


def _check_size(data: bytes) -> None:
    if not data:
        raise CorpusError("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise CorpusError(f"file too large (over {MAX_FILE_BYTES:,} bytes)")


def _decode(data: bytes) -> str:
    """The text of a corpus file's bytes; CorpusError says why they are not usable UTF-8 text."""
    _check_size(data)
    if _is_utf16(data):
        raise CorpusError("UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise CorpusError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc


def _read_file(path: Path, follow_links: bool = False) -> bytes | None:
    """A regular file's bytes (at most one past the size limit), or None when there is no such file.
    Never blocks on a FIFO and, unless told to, never follows a symbolic link."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise CorpusError("not a regular file (a folder or a device)")
            with open(fd, "rb", closefd=False) as handle:
                return handle.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CorpusError(f"cannot be read ({exc.strerror or exc})") from exc


def _read_corpus_manifest(corpus_dir: Path) -> tuple[bytes, dict[str, dict]]:
    """The manifest's bytes and its entries (file name -> title, kind, publisher)."""
    path = corpus_dir / MANIFEST
    try:
        data = _read_file(path)
    except CorpusError as exc:
        raise CorpusError(f"corpus manifest {path}: {exc}") from exc
    if data is None:
        raise CorpusError(f"no corpus manifest at {path}: create it (see README, 'Adding documents')")
    try:
        entries = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorpusError(f"corpus manifest {path} is not valid JSON: {exc}") from exc
    if not isinstance(entries, dict):
        raise CorpusError(f"corpus manifest {path} must map file names to entries")
    return data, entries


def _listed_bytes(corpus_dir: Path, name: str) -> bytes:
    data = _read_file(member_path(corpus_dir, name))
    if data is None:
        raise CorpusError("listed in the manifest but the file is missing")
    return data


def _original_bytes(corpus_dir: Path, original: str) -> bytes:
    try:
        return _listed_bytes(corpus_dir, original)
    except CorpusError as exc:
        raise CorpusError(f"its original {original}: {exc}") from exc


def _document(name: str, entry: object, data: bytes) -> Document:
    """The document a manifest entry and its file's bytes make; CorpusError says why they make none."""
    if not isinstance(entry, dict) or not isinstance(entry.get("title"), str) or not entry["title"] \
            or entry.get("kind") not in KINDS:
        raise CorpusError(f"manifest entry needs a title and a kind out of {', '.join(KINDS)}")
    original, pages = entry.get("original"), entry.get("pages", [])
    if original is not None and (not isinstance(original, str) or not _is_plain_name(original) or original == name):
        raise CorpusError("manifest entry's 'original' must be the plain file name of the PDF or HTML file")
    text = _decode(data)
    if normal_form(text) != text:
        raise CorpusError("it has a byte-order mark, CR line ends or zero-width characters: add it again "
                          "with `emhqa add FILE --title ... --kind ... --replace`, which stores it without them")
    if not isinstance(pages, list) or any(type(p) is not int for p in pages) or pages != sorted(pages) \
            or pages[:1] not in ([], [0]) or pages[-1:] > [len(text)]:
        raise CorpusError("manifest entry's 'pages' must be the ascending offsets where pages start in the "
                          "text: add the PDF again with `emhqa add FILE ... --replace`")
    return Document(name, entry["title"], entry["kind"], entry.get("publisher"), text, original, tuple(pages))


def _read_listed(corpus_dir: Path) -> Corpus:
    """Every file the manifest lists, each read once: the documents are built from the bytes hashed."""
    manifest, entries = _read_corpus_manifest(corpus_dir)
    documents, skipped, hashes = [], {}, {MANIFEST: sha256(manifest)}
    for name, entry in sorted(entries.items()):
        try:
            data = _listed_bytes(corpus_dir, name)
            hashes[name] = sha256(data)
            document = _document(name, entry, data)
            if document.original is not None:
                hashes[document.original] = sha256(_original_bytes(corpus_dir, document.original))
            documents.append(document)
        except CorpusError as exc:
            hashes.setdefault(name, "unusable")
            skipped[name] = str(exc)
    return Corpus(tuple(documents), skipped, hashes)


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """Hashes of the manifest and of every file it names: the fingerprint an index is built from."""
    return _read_listed(corpus_dir).hashes


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read every document the manifest names; skip (and say why) what cannot be indexed."""
    corpus = _read_listed(corpus_dir)
    for path in sorted(corpus_dir.iterdir()):
        if path.is_file() and path.name not in corpus.hashes and not path.name.startswith("."):
            corpus.skipped[path.name] = "not listed in corpus/manifest.json (add it with `emhqa add`)"
    for name, reason in corpus.skipped.items():
        log.warning("skipping corpus file %r: %s", name, reason)
    return corpus


def _manifest_bytes(entries: dict[str, dict]) -> bytes:
    return (json.dumps(entries, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _staged(corpus_dir: Path, data: bytes) -> Path:
    """``data`` written and synced to a new temporary file in the corpus folder (removed on failure)."""
    fd, name = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=corpus_dir)
    try:
        with open(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _commit(corpus_dir: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into the corpus folder: all are written and synced under
    temporary names before any is renamed over its name (a rename replaces a link, never follows it)."""
    staged: list[tuple[Path, str]] = []
    try:
        for name, data in files.items():
            staged.append((_staged(corpus_dir, data), name))
        for temporary, name in staged:
            os.replace(temporary, corpus_dir / name)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    folder = os.open(corpus_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextmanager
def _changing(corpus_dir: Path) -> Iterator[dict[str, dict]]:
    """The manifest's entries, read under the corpus lock, which is held until the block ends.
    Temporary files that a killed change left behind are removed first."""
    if is_read_only(corpus_dir):
        raise CorpusError(f"the bundled corpus {corpus_dir} is read-only: copy it to a folder of your own and "
                          f"set EMHQA_CORPUS to it (cp -r '{corpus_dir}' ~/emhqa-corpus && export "
                          "EMHQA_CORPUS=~/emhqa-corpus)")
    if not corpus_dir.is_dir():
        raise CorpusError(f"no corpus folder at {corpus_dir}: set EMHQA_CORPUS to the corpus folder")
    try:
        with FileLock(corpus_dir / LOCK, timeout=LOCK_TIMEOUT_S):
            for leftover in corpus_dir.glob(f"{TEMPORARY_PREFIX}*{TEMPORARY_SUFFIX}"):
                leftover.unlink(missing_ok=True)
            yield _read_corpus_manifest(corpus_dir)[1]
    except Timeout as exc:
        raise CorpusError(f"another emhqa command kept {corpus_dir} locked for {LOCK_TIMEOUT_S} s; "
                          "try again when it has finished") from exc
    except OSError as exc:
        raise CorpusError(f"the corpus folder could not be changed ({exc.strerror or exc}); free disk space "
                          "or fix the folder's permissions, then try again") from exc


def _stored_files(path: Path, entry: dict) -> tuple[str, dict, dict[str, bytes]]:
    """What ``emhqa add`` stores for the file at ``path``: the citation id, the manifest entry and the
    files (name -> bytes). Text is stored in normal form; a PDF or HTML file is kept with its converted
    text beside it (``report.pdf`` and ``report.md``). Checked to be a usable document with something
    to index."""
    data = _read_file(path, follow_links=True)
    if data is None:
        raise CorpusError("no such file")
    if converts(path.suffix):
        _check_size(data)
        converted = convert(data, path.suffix, entry["title"])
        name = path.stem + STORED_SUFFIX
        entry = {**entry, "original": path.name, **({"pages": list(converted.pages)} if converted.pages else {})}
        files = {name: normal_form(converted.text).encode("utf-8"), path.name: data}
    else:
        name, files = path.name, {path.name: normal_form(_decode(data)).encode("utf-8")}
        if files[name] != data:
            log.warning("%r is stored without its byte-order mark, CR line ends or zero-width characters", name)
    if not _document(name, entry, files[name]).sections():
        raise CorpusError("nothing in it would be indexed: check --kind, or mark its sections with "
                          "Markdown '#' headings")
    return name, entry, files


def _in_use(entries: dict[str, dict]) -> dict[str, str]:
    """Every file name the manifest uses (its documents and their originals) -> the document's name."""
    return {**{e["original"]: name for name, e in entries.items() if isinstance(e, dict) and "original" in e},
            **{name: name for name in entries}}


def _delete_original(corpus_dir: Path, entry: object, keep: Collection[str] = ()) -> None:
    """Delete the original file of a manifest entry that was dropped or replaced, unless kept."""
    original = entry.get("original") if isinstance(entry, dict) else None
    if isinstance(original, str) and _is_plain_name(original) and original not in keep:
        (corpus_dir / original).unlink(missing_ok=True)


def add_document(corpus_dir: Path, path: Path, title: str, kind: str, publisher: str | None = None,
                 replace: bool = False, shown_as: str | None = None) -> str:
    """Store a user's text, Markdown, PDF or HTML file in the corpus (text in normal form; a PDF or
    HTML file with its converted text) and list it in the manifest; returns its citation id (the
    stored text's file name). Nothing changes when it fails; its message names the file as
    ``shown_as`` (default: ``path``)."""
    try:
        name, entry, files = _stored_files(path, {"title": title, "kind": kind, "publisher": publisher})
        with _changing(corpus_dir) as entries:
            in_use = _in_use(entries)
            for file in files:
                target, owner = member_path(corpus_dir, file), in_use.get(file)
                if owner is not None and owner != name:
                    raise CorpusError(f"{file} is already in the corpus, as the original of {owner}")
                if not replace and (owner is not None or os.path.lexists(target)):
                    raise CorpusError(f"{file} is already in the corpus; pass --replace to replace it")
            replaced = entries.get(name)
            _commit(corpus_dir, {**files, MANIFEST: _manifest_bytes({**entries, name: entry})})
            _delete_original(corpus_dir, replaced, keep=files)
    except CorpusError as exc:
        raise CorpusError(f"cannot add {shown_as or str(path)!r}: {exc}") from exc
    return name


def add_upload(corpus_dir: Path, file_name: str, data: bytes, title: str, kind: str,
               publisher: str | None = None) -> str:
    """``add_document`` for a file's bytes that arrived by name (the chat UI's upload): the same checks
    (size, type, name, duplicates; no replacing) and the same result, its citation id."""
    if not _is_plain_name(file_name):
        raise CorpusError(f"cannot add {file_name!r}: use a plain file name of at most 255 bytes "
                          "(no folder part, not starting with '.')")
    if not title.strip():
        raise CorpusError(f"cannot add {file_name!r}: give it a title (shown with every citation of it)")
    if len(data) > MAX_FILE_BYTES:  # refused before it is written anywhere
        raise CorpusError(f"cannot add {file_name!r}: file too large (over {MAX_FILE_BYTES:,} bytes)")
    with tempfile.TemporaryDirectory(prefix="emhqa-upload-") as folder:
        path = Path(folder) / file_name
        path.write_bytes(data)
        return add_document(corpus_dir, path, title.strip(), kind, (publisher or "").strip() or None,
                            shown_as=file_name)


def is_read_only(corpus_dir: Path) -> bool:
    """Whether ``corpus_dir`` is the bundled corpus of an installed package, which is never changed."""
    return corpus_dir.resolve() == BUNDLED_CORPUS


def listed_documents(corpus_dir: Path) -> dict[str, str]:
    """The documents the corpus manifest lists: citation id -> title (the id when it has none)."""
    entries = _read_corpus_manifest(corpus_dir)[1]
    return {name: entry.get("title") or name if isinstance(entry, dict) else name
            for name, entry in sorted(entries.items())}


def remove_document(corpus_dir: Path, name: str) -> None:
    """Drop a document from the manifest, then delete its file; its passages go at the next index."""
    try:
        with _changing(corpus_dir) as entries:
            name = _in_use(entries).get(name, name)  # a PDF or HTML file's name names its document
            target = member_path(corpus_dir, name)
            if name not in entries:
                raise CorpusError(f"it is not in {corpus_dir / MANIFEST}")
            _commit(corpus_dir, {MANIFEST: _manifest_bytes({k: v for k, v in entries.items() if k != name})})
            target.unlink(missing_ok=True)
            _delete_original(corpus_dir, entries[name])
    except CorpusError as exc:
        raise CorpusError(f"cannot remove {name!r}: {exc}; nothing was deleted") from exc
