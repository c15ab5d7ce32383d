"""A user's own documents: `emhqa add` / `emhqa remove`, Markdown files, incremental index builds."""
from __future__ import annotations

import json
import shutil

import pytest

from emhqa.cli import main
from emhqa.config import Config
from emhqa.pipeline import load

CASE = """# Case: thalassemia and spinal cord compression

## History

A 52-year-old man with beta-thalassemia intermedia came with six weeks of progressive weakness of both legs.

## Findings

MRI showed a lobulated epidural mass from T4 to T9 compressing the spinal cord, isointense to marrow.

## Outcome

The epidural mass shrank after low-dose radiotherapy of 20 Gy in 10 fractions, and the weakness resolved.
"""
QUESTION = "What radiotherapy dose shrank the epidural mass in the man with beta-thalassemia intermedia?"


@pytest.fixture
def user_corpus(built_config, corpus_copy, tmp_path, monkeypatch) -> Config:
    """A private corpus and a copy of the session's index built from it."""
    shutil.copytree(built_config.index_dir, tmp_path / "index")
    monkeypatch.setenv("EMHQA_CORPUS", str(corpus_copy))
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))
    return Config()


def test_an_added_markdown_case_report_answers_a_question_only_it_covers(user_corpus, tmp_path, capsys):
    before = load(user_corpus).ask(QUESTION)
    assert all(c.source != "my-case.md" for c in before.citations)
    (tmp_path / "my-case.md").write_text(CASE, encoding="utf-8")
    assert main(["add", str(tmp_path / "my-case.md"), "--title", "My case: epidural EMH", "--kind", "case"]) == 0
    assert "reused" in capsys.readouterr().out
    assert (user_corpus.corpus_dir / "my-case.md").read_bytes() == CASE.encode()
    qa = load(user_corpus)
    manifest = qa.index.manifest
    assert manifest.embedded is not None and 0 < manifest.embedded < 20 < manifest.reused  # only the new file was embedded
    answer = qa.ask(QUESTION)
    assert not answer.abstained
    assert answer.citations[0].source == "my-case.md" and answer.citations[0].section == "Outcome"
    assert "20 Gy" in answer.citations[0].quote
    assert CASE[answer.citations[0].start:answer.citations[0].end] == answer.citations[0].quote

    assert main(["remove", "my-case.md"]) == 0
    after = load(user_corpus)
    assert all(c.source != "my-case.md" for c in after.index.chunks)
    assert not (user_corpus.corpus_dir / "my-case.md").exists()


def test_add_refuses_a_binary_file_or_a_duplicate_name_and_changes_nothing(user_corpus, tmp_path, capsys):
    manifest = (user_corpus.corpus_dir / "manifest.json").read_bytes()
    (tmp_path / "scan.txt").write_bytes(b"\x89PNG\x00\x01")
    assert main(["add", str(tmp_path / "scan.txt"), "--title", "Scan", "--kind", "case"]) == 1
    assert "binary" in capsys.readouterr().err
    existing = next(name for name in json.loads(manifest) if name.endswith(".txt"))
    (tmp_path / existing).write_text("# A\n\nText.\n")
    assert main(["add", str(tmp_path / existing), "--title", "Dup", "--kind", "faq"]) == 1
    assert "--replace" in capsys.readouterr().err
    assert (user_corpus.corpus_dir / "manifest.json").read_bytes() == manifest
    assert not (user_corpus.corpus_dir / "scan.txt").exists()


def test_a_markdown_faq_is_split_at_its_question_headings(tmp_path):
    from emhqa.parsers import parse

    text = "# My FAQ\n\n## Is EMH painful?\n\nOften it is not.\n\n## Can it bleed?\n\nRarely, it can.\n"
    sections = parse("faq", text, "faq.md")
    assert [s.title for s in sections] == ["Is EMH painful?", "Can it bleed?"]
    assert all(text[s.start:s.end] == s.sentences[0].text for s in sections)
