"""The corpus and index fingerprint that the app checks before every question."""
from __future__ import annotations

import os

from emhqa.config import Config
from emhqa import freshness
from emhqa.freshness import fingerprint, open_with_fingerprint
from emhqa.index import CURRENT


def test_the_fingerprint_changes_with_every_corpus_or_index_change_and_only_then(corpus_copy, tmp_path):
    config = Config(corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    (tmp_path / "index").mkdir()
    manifest, first = corpus_copy / "manifest.json", sorted(corpus_copy.glob("*.txt"))[0]
    text = first.read_text(encoding="utf-8")

    def replace_first() -> None:  # as `emhqa add --replace` does: a new file renamed into place
        (tmp_path / "new.txt").write_text(text, encoding="utf-8")
        os.replace(tmp_path / "new.txt", first)

    steps = [("a lock file written", lambda: (corpus_copy / ".corpus.lock").write_text(""), False),
             ("the manifest renamed onto itself", lambda: os.replace(manifest, manifest), False),
             ("one letter changed in place", lambda: first.write_text(text.replace("a", "b", 1)), True),
             ("a file replaced by a new one", replace_first, True),
             ("a file added", lambda: (corpus_copy / "added.txt").write_text("x"), True),
             ("that file removed", lambda: (corpus_copy / "added.txt").unlink(), True),
             ("a first build", lambda: (tmp_path / "index" / CURRENT).write_text("build-1"), True),
             ("a new build", lambda: (tmp_path / "index" / CURRENT).write_text("build-2"), True)]
    for what, change, changes in steps:
        before = fingerprint(config)
        change()
        assert (fingerprint(config) != before) == changes, what


def test_an_index_opened_with_its_fingerprint_is_fresh_after_a_build_and_not_after_a_change_meanwhile(
        corpus_copy, tmp_path, monkeypatch):
    config = Config(corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    index, stamp = open_with_fingerprint(config)  # no index yet: built, CURRENT written
    assert len(index.chunks) > 20 and stamp == fingerprint(config)
    opened = freshness.open_index

    def open_while_a_file_is_added(*args, **kwargs):
        index = opened(*args, **kwargs)
        (corpus_copy / "added.txt").write_text("x")
        return index

    monkeypatch.setattr(freshness, "open_index", open_while_a_file_is_added)
    _, stamp = open_with_fingerprint(config)
    assert stamp != fingerprint(config)  # the next check loads it again


def test_a_missing_corpus_folder_has_a_fingerprint_and_no_error(tmp_path):
    assert fingerprint(Config(corpus_dir=tmp_path / "none", index_dir=tmp_path / "index"))
