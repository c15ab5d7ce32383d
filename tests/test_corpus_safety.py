"""Corpus safety: nothing outside the corpus folder is read, written or deleted; no document is lost
or silently emptied by `emhqa add` (see RELIABILITY.md, "Corpus safety")."""
from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from emhqa.cli import main
from emhqa.config import Config
from emhqa.corpus import LOCK, MANIFEST, load_corpus, member_path, normal_form
from emhqa.errors import CorpusError
from emhqa.index import build_index
from emhqa.text import normalize_token, tokens

KNOWN = "# Known\n\n## Does EMH calcify?\n\nRarely; calcification is uncommon.\n"
SECRET = "The outside file holds a secret sentence about spleen size."
NOTE = "# Case: {n}\n\n## History\n\nPatient {n} had thalassemia and a paraspinal EMH mass.\n"
# One Markdown case report, and the same text with each defect a user's editor can add.
REPORT = "## History\n\nA man had thalassemia intermedia.\n\n## Findings\n\nMRI showed extramedullary hematopoiesis.\n"
DEFECTS = {
    "byte-order mark": "\ufeff" + REPORT,
    "CRLF line ends": REPORT.replace("\n", "\r\n"),
    "CR line ends": REPORT.replace("\n", "\r"),
    "zero-width space inside a word": REPORT.replace("hematopoiesis", "hemato\u200bpoiesis"),
}
ARGS = ["--title", "Mine", "--kind", "case"]
RACE_TRIALS, RACE_ADDS = 6, 5
RACER = """
import sys
import emhqa.cli as cli
cli._index = lambda args, complete=True: 0  # the corpus change races here; concurrent builds are tested in test_reliability
sys.exit(max(cli.main(["add", path, "--title", "Note", "--kind", "case"]) for path in sys.argv[1:]))
"""


@pytest.fixture
def corpus(tmp_path, monkeypatch) -> Path:
    """A one-document corpus in tmp_path that the CLI uses; `add` and `remove` skip their index step."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "known.md").write_text(KNOWN, encoding="utf-8")
    write_manifest(folder, {"known.md": {"title": "Known", "kind": "faq"}})
    monkeypatch.setenv("EMHQA_CORPUS", str(folder))
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))
    monkeypatch.setattr("emhqa.cli._index", lambda args, complete=True: 0)
    return folder


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file next to the corpus folder, not in it."""
    path = tmp_path / "outside" / "file.txt"
    path.parent.mkdir()
    path.write_text(SECRET, encoding="utf-8")
    return path


def write_manifest(folder: Path, entries: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(entries), encoding="utf-8")


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry of the folder (hidden ones included, the lock file left out): bytes or link target."""
    return {path.name: f"-> {os.readlink(path)}" if path.is_symlink() else path.read_bytes()
            for path in folder.iterdir() if path.name != LOCK}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("emhqa: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def add(tmp_path: Path, name: str, content: str | bytes, *options: str) -> int:
    source = tmp_path / "src" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(content.encode() if isinstance(content, str) else content)
    return main(["add", str(source), *ARGS, *options])


# ---- membership -----------------------------------------------------------------------------------

def test_manifest_entries_outside_the_corpus_are_skipped_and_never_indexed(corpus, outside, tmp_path, embedder):
    (corpus / "sub").mkdir()
    (corpus / "sub" / "file.txt").write_text(SECRET)
    (corpus / "linked.txt").symlink_to(outside)
    bad = ["../outside/file.txt", str(outside), MANIFEST, "sub/file.txt", "linked.txt"]
    write_manifest(corpus, {"known.md": {"title": "Known", "kind": "faq"},
                            **{name: {"title": "Bad", "kind": "faq"} for name in bad}})
    index = build_index(Config(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder)
    assert set(index.manifest.skipped) == set(bad)
    assert {chunk.source for chunk in index.chunks} == {"known.md"}
    assert not any("secret" in chunk.text for chunk in index.chunks)


@pytest.mark.parametrize("name", ["../outside/file.txt", "OUTSIDE", MANIFEST, ".hidden"])
def test_remove_refuses_a_name_outside_the_corpus_and_deletes_nothing(corpus, outside, capsys, name):
    name = str(outside) if name == "OUTSIDE" else name
    write_manifest(corpus, {"known.md": {"title": "Known", "kind": "faq"}, name: {"title": "Bad", "kind": "faq"}})
    (corpus / ".hidden").touch()
    before = snapshot(corpus)
    assert main(["remove", name]) == 1
    assert "not a corpus file name" in one_line_error(capsys)
    assert snapshot(corpus) == before and outside.read_text() == SECRET


@pytest.mark.parametrize("replace", [[], ["--replace"]])
@pytest.mark.parametrize("target_exists", [True, False], ids=["planted link", "dangling link"])
def test_add_never_writes_through_a_symlink_in_the_corpus(corpus, outside, tmp_path, capsys, replace, target_exists):
    target = outside if target_exists else outside.with_name("new.md")
    (corpus / "mine.md").symlink_to(target)
    before = snapshot(corpus)
    assert add(tmp_path, "mine.md", NOTE.format(n=1), *replace) == 1
    assert "symbolic link" in one_line_error(capsys)
    assert snapshot(corpus) == before
    assert (target.read_text() == SECRET) if target_exists else not target.exists()


@settings(max_examples=300, deadline=None)
@given(name=st.text(st.characters(codec="utf-8"), max_size=20)
       | st.text(st.sampled_from("./\\\x00\n~ab"), max_size=8))
def test_a_member_name_always_resolves_to_a_plain_file_inside_the_corpus(tmp_path_factory, name):
    folder = tmp_path_factory.getbasetemp() / "members"
    folder.mkdir(exist_ok=True)
    try:
        path = member_path(folder, name)
    except CorpusError:
        return
    assert path.parent == folder and path.resolve().parent == folder.resolve()
    assert path.name == name and not name.startswith(".") and name != MANIFEST


# ---- concurrent and failing changes ------------------------------------------------------------------

def test_two_adds_at_once_never_lose_an_entry(corpus, tmp_path):
    env = {**os.environ, "EMHQA_CORPUS": str(corpus)}
    for trial in range(RACE_TRIALS):
        sources = [[], []]
        for n in range(2 * RACE_ADDS):
            path = tmp_path / "src" / f"note-{trial}-{n}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(NOTE.format(n=n), encoding="utf-8")
            sources[n % 2].append(str(path))
        racers = [subprocess.Popen([sys.executable, "-c", RACER, *paths], env=env, stderr=subprocess.PIPE,
                                   text=True) for paths in sources]
        errors = [racer.communicate(timeout=120)[1] for racer in racers]
        assert [racer.returncode for racer in racers] == [0, 0], errors
    listed = json.loads((corpus / MANIFEST).read_text())
    assert len(listed) == 1 + RACE_TRIALS * 2 * RACE_ADDS
    assert load_corpus(corpus).skipped == {}  # every file listed, none left behind unlisted
    assert not [p.name for p in corpus.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("failing_sync", [1, 2], ids=["writing the document", "writing the manifest"])
def test_a_failed_add_leaves_the_corpus_byte_identical_and_a_retry_succeeds(corpus, tmp_path, monkeypatch, capsys,
                                                                             failing_sync):
    before = snapshot(corpus)
    calls = []
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        calls.append(fd)
        if len(calls) == failing_sync:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    assert add(tmp_path, "mine.md", NOTE.format(n=1)) == 1
    assert "No space left on device" in one_line_error(capsys)
    assert snapshot(corpus) == before
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert add(tmp_path, "mine.md", NOTE.format(n=1)) == 0
    assert (corpus / "mine.md").read_text() == NOTE.format(n=1)
    assert "mine.md" in json.loads((corpus / MANIFEST).read_text())


def test_an_add_cut_short_by_a_file_size_limit_leaves_no_truncated_file(corpus, tmp_path):
    source = tmp_path / "big.md"
    source.write_text(NOTE.format(n=1) + "Filler sentence about EMH.\n" * 2000, encoding="utf-8")
    limit = 20_000  # larger than the manifest, smaller than the document: its write fails half-way

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    before = snapshot(corpus)
    result = subprocess.run([sys.executable, "-m", "emhqa.cli", "add", str(source), *ARGS], capture_output=True,
                            text=True, env={**os.environ, "EMHQA_CORPUS": str(corpus)}, preexec_fn=limit_file_size,
                            timeout=120)
    assert result.returncode == 1 and "File too large" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(corpus) == before
    assert main(["add", str(source), *ARGS]) == 0
    assert (corpus / "big.md").read_bytes() == source.read_bytes()


def test_a_failed_index_build_leaves_no_staging_folder(corpus, tmp_path, embedder, monkeypatch):
    def full_disk(*args) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("emhqa.index.store.faiss.write_index", full_disk)
    with pytest.raises(OSError):
        build_index(Config(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder)
    assert list((tmp_path / "index").glob("build-*")) == []


# ---- encodings and invisible characters --------------------------------------------------------------

@pytest.mark.parametrize("defect", DEFECTS)
def test_an_added_file_keeps_every_section_and_word_whatever_its_line_ends(corpus, tmp_path, caplog, defect):
    assert add(tmp_path, "mine.md", DEFECTS[defect]) == 0
    stored = (corpus / "mine.md").read_text(encoding="utf-8")
    assert stored == REPORT and "stored without" in caplog.text
    sections = load_corpus(corpus).document("mine.md").sections()
    assert [s.title for s in sections] == ["History", "Findings"]
    assert all(stored[span.start:span.end] == span.text for s in sections for span in s.sentences)
    assert normalize_token("hematopoiesis") in tokens(stored)


def test_a_hand_placed_file_with_crlf_is_skipped_with_the_fix(corpus, caplog):
    (corpus / "mine.md").write_bytes(DEFECTS["CRLF line ends"].encode())
    write_manifest(corpus, {"known.md": {"title": "Known", "kind": "faq"}, "mine.md": {"title": "M", "kind": "case"}})
    reason = load_corpus(corpus).skipped["mine.md"]
    assert "CR line ends" in reason and "emhqa add" in reason and "--replace" in reason


@pytest.mark.parametrize("content, message", [
    (REPORT.encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    (REPORT.encode("utf-16-le"), "UTF-16 text; save it as UTF-8"),
    (b"\x89PNG\x00\x01", "binary file"),
    ("caf\xe9".encode("latin-1"), "not UTF-8 text"),
    ("\ufeff\u200b".encode(), "empty file"),  # nothing left once normalized
    (b"just a title line", "nothing in it would be indexed"),
])
def test_add_names_what_is_wrong_with_a_file(corpus, tmp_path, capsys, content, message):
    before = snapshot(corpus)
    assert add(tmp_path, "mine.txt", content) == 1
    assert message in one_line_error(capsys)
    assert snapshot(corpus) == before


@pytest.mark.parametrize("path, message", [("nowhere.md", "no such file"), ("", "not a regular file")])
def test_add_of_a_missing_file_or_a_folder_says_so(corpus, tmp_path, capsys, path, message):
    assert main(["add", str(tmp_path / path), *ARGS]) == 1
    assert message in one_line_error(capsys)


LINES = st.sampled_from(["# Heading", "## Part two", "A man had EMH.", "MRI showed hemato\u200bpoiesis.",
                         "\ufeffA line after a stray mark.", "Caf\u00e9 au lait spots?", "Is EMH rare?", ""] * 4
                        + ["\x00"])  # a NUL now and then: a binary file
BREAKS = st.sampled_from(["\n", "\n\n", "\r\n", "\r\n\r\n", "\r", "\r\r", "\u2028"])
CONTENT = st.lists(st.tuples(LINES, BREAKS), max_size=12).map(lambda pairs: "".join(a + b for a, b in pairs))
NAMES = st.sampled_from(["generated.md", MANIFEST, ".hidden.md", "-dash.md", "a b.txt", "x" * 252 + ".md"]) \
    | st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, text=CONTENT, kind=st.sampled_from(["case", "faq", "article", "outline"]),
       encoding=st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
def test_add_on_generated_files_stores_indexable_normal_text_or_refuses_in_one_line(corpus, tmp_path, capsys, name,
                                                                                 text, encoding, kind):
    assume(name not in (".", "..") and len(name.encode()) <= 255)
    source = tmp_path / "src" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(text.encode(encoding, errors="replace"))
    capsys.readouterr()
    code = main(["add", str(source), "--title", "Generated", "--kind", kind, "--replace"])
    source.unlink()
    event("stored" if code == 0 else "refused")
    if code:
        assert code == 1 and one_line_error(capsys)
        return
    stored = (corpus / name).read_text(encoding="utf-8")
    assert normal_form(stored) == stored
    document = load_corpus(corpus).document(name)
    assert document.sections()
    assert all(stored[span.start:span.end] == span.text for s in document.sections() for span in s.sentences)
