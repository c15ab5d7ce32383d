"""Large documents indexed keyword-first (issue 12): found and answered at once, embedded later."""
from __future__ import annotations

import re
import shutil
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emhqa.cli import main
from emhqa.config import Config
from emhqa.evidence import ON_DEMAND_SENTENCES
from emhqa.index import BACKGROUND_LOG, IndexManifest, build_index, current_build, open_index
from emhqa.index.store import load_current
from emhqa.pipeline import load
from emhqa.text import find_abbreviations
from test_growing_corpus import CASE, QUESTION

NAME = "my-case.md"


@pytest.fixture
def corpus_with_case(built_config, corpus_copy, tmp_path, monkeypatch) -> Config:
    """A private copy of the session's corpus and index, and the case report waiting in tmp_path; the
    background completion off unless a test turns it on."""
    shutil.copytree(built_config.index_dir, tmp_path / "index")
    (tmp_path / NAME).write_text(CASE, encoding="utf-8")
    monkeypatch.setenv("EMHQA_CORPUS", str(corpus_copy))
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("EMHQA_EMBED_NOW_CHARS", "100")  # the case report is "large"
    monkeypatch.setenv("EMHQA_BACKGROUND_INDEX", "off")
    return Config()


def test_a_document_over_the_budget_is_answered_from_keyword_search_then_embedded(corpus_with_case, tmp_path,
                                                                                   capsys, embedder):
    assert main(["add", str(tmp_path / NAME), "--title", "My case: epidural EMH", "--kind", "case"]) == 0
    assert "answered from keyword search until its vectors are computed" in capsys.readouterr().out
    qa = load(corpus_with_case)
    index = qa.index
    assert index.manifest.awaiting_vectors == {NAME} and index.manifest.embedded == 0
    waiting = [i for i, c in enumerate(index.chunks) if c.source == NAME]
    assert waiting and not index.has_vectors[waiting].any() and index.has_vectors.sum() == len(index.chunks) - len(waiting)
    dense = qa.retriever.with_mode("dense")
    assert not any(p.chunk.source == NAME for p in dense.retrieve("Can radiotherapy shrink an epidural mass?", 10))
    assert all(p.dense_score == 0.0 for p in dense.retrieve(QUESTION, 10) if p.chunk.source == NAME)

    encode, embedded = qa.encoder.encode, []
    qa.encoder.encode = lambda texts: embedded.extend(texts) or encode(texts)  # the on-demand embedding
    answer = qa.ask(QUESTION)  # found by BM25; the sentence with most of its focus embedded for the answer
    qa.encoder.encode = encode
    sentences = {s.text for i in waiting for s in index.chunks[i].sentences}
    assert 1 <= len(sentences.intersection(embedded)) <= ON_DEMAND_SENTENCES < len(sentences)
    assert not answer.abstained and answer.citations[0].source == NAME and "20 Gy" in answer.citations[0].quote
    assert CASE[answer.citations[0].start:answer.citations[0].end] == answer.citations[0].quote

    assert main(["index"]) == 0  # completes: embeds the waiting document only
    completed = open_index(corpus_with_case, embedder)
    assert not completed.manifest.awaiting_vectors and completed.has_vectors.all()
    assert 0 < completed.manifest.embedded < 20
    reference = build_index(corpus_with_case.with_(index_dir=tmp_path / "full", embed_now_chars=10**9), embedder)
    np.testing.assert_allclose(reference.sentence_vectors, completed.sentence_vectors, atol=1e-5)
    assert load(corpus_with_case).ask(QUESTION).citations[0].quote == answer.citations[0].quote


def test_emhqa_add_completes_a_large_document_in_the_background(corpus_with_case, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMHQA_BACKGROUND_INDEX", "on")
    assert main(["add", str(tmp_path / NAME), "--title", "My case: epidural EMH", "--kind", "case"]) == 0
    assert "in the background" in capsys.readouterr().out
    log, deadline = corpus_with_case.index_dir / BACKGROUND_LOG, time.monotonic() + 120
    while "index ready" not in log.read_text():  # the background `emhqa index` says so when it is done
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.5)
    assert "index built" in log.read_text()
    assert not load_current(corpus_with_case.index_dir).manifest.awaiting_vectors


def test_manifests_from_before_keyword_first_read_as_embedded_and_a_bad_flag_is_damage(built_config, tmp_path):
    build = current_build(built_config.index_dir)
    text = (build / "manifest.json").read_text(encoding="utf-8")
    assert '"vectors": true' in text
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(text.replace(', "vectors": true', "").replace(',\n      "vectors": true', ""),
                                       encoding="utf-8")
    assert "vectors" not in (old / "manifest.json").read_text(encoding="utf-8")
    assert not IndexManifest.read(old).awaiting_vectors
    (old / "manifest.json").write_text(text.replace('"vectors": true', '"vectors": "no"', 1), encoding="utf-8")
    with pytest.raises(Exception, match="unknown format"):
        IndexManifest.read(old)


_REFERENCE = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,6})\(([A-Z][A-Z0-9]{1,7})\)")


def _reference_abbreviations(text: str) -> dict[str, str]:
    """find_abbreviations as first written: one pattern matched from every position (slow on 5 MB)."""
    found: dict[str, str] = {}
    for match in _REFERENCE.finditer(text):
        words, abbreviation = match.group(1).split(), match.group(2)
        for size in range(1, len(words) + 1):
            if words[-size][0].upper() == abbreviation[0] and size <= len(abbreviation):
                found.setdefault(abbreviation.lower(), " ".join(words[-size:]))
                break
    return found


PIECES = ["Extra", "medullary", "hema-topoiesis", "(EMH)", "(CT)", "x1", "1abc", "(blood", "a.b", "é", "_x",
          "Magnetic", "Resonance", "Imaging", "(MRI)", "(A1)", "Computed", "Tomography", "(", ")", "EMH"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PIECES), st.sampled_from(["", " ", "  ", "\n", " \n"])), max_size=20))
def test_abbreviations_are_found_as_the_whole_text_pattern_finds_them(pieces):
    text = "".join(piece + space for piece, space in pieces)
    assert find_abbreviations(text) == _reference_abbreviations(text)
