"""The Milvus backend against a real `milvus-lite server` process (conftest.milvus_server): the same
passages and answers as the embedded index, builds switched whole, stale and foreign collections named,
and several processes sharing one server."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from emhqa.cli import main
from emhqa.config import REPO_ROOT, Config, StoreSettings
from emhqa.errors import ConfigError, StoreError
from emhqa.freshness import fingerprint
from emhqa.index import build_index, open_backend, open_index
from emhqa.index.milvus import lexical_text
from test_errors import REBUILD_LOOP
from test_growing_corpus import CASE, QUESTION

QUESTIONS = [json.loads(line)["question"] for line in (REPO_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]


def private(milvus_server: str, tmp_path, corpus) -> Config:
    """A config of its own on the session's server: a collection named after the test's folder."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)[-40:]
    return Config(corpus_dir=corpus, index_dir=tmp_path / "lock", store=StoreSettings.parse(f"{milvus_server}/{name}"))


@pytest.mark.parametrize("value, expected", [
    ("", ("embedded", "", "emhqa")), ("embedded", ("embedded", "", "emhqa")),
    ("milvus://127.0.0.1:19530", ("milvus", "http://127.0.0.1:19530", "emhqa")),
    ("milvus://milvus.internal:19530/cases", ("milvus", "http://milvus.internal:19530", "cases"))])
def test_emhqa_store_names_the_backend(value, expected):
    store = StoreSettings.parse(value)
    assert (store.kind, store.uri, store.collection) == expected


@pytest.mark.parametrize("value", ["milvus://host", "milvus://host:0", "http://host:19530", "milvus://h:1/bad-name"])
def test_a_bad_emhqa_store_is_a_config_error_naming_the_forms(value):
    with pytest.raises(ConfigError, match="milvus://host:port"):
        StoreSettings.parse(value)


def test_tokens_that_are_not_plain_ascii_are_kept_whole():
    assert lexical_text(["calcif", "t6", "hémato", "x_y"]) == "calcif t6 u_68c3a96d61746f u_785f79"


def test_the_milvus_build_holds_what_the_embedded_one_does(milvus_qa, qa):
    milvus, embedded = milvus_qa.index, qa.index
    assert milvus.chunks == embedded.chunks
    assert np.allclose(milvus.vectors, embedded.vectors, atol=1e-6)
    assert np.allclose(milvus.sentence_vectors, embedded.sentence_vectors, atol=1e-6)
    assert milvus.manifest.corpus == embedded.manifest.corpus and milvus.manifest.model_id == embedded.manifest.model_id
    assert milvus.manifest.chunking_version == embedded.manifest.chunking_version


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_milvus_retrieves_the_passages_the_embedded_index_does(milvus_qa, qa, mode):
    excluded = "004_4a7d70616bb311fd.txt"
    for question in QUESTIONS[::3]:
        for exclude in (None, lambda chunk: chunk.source == excluded):
            ours = milvus_qa.retriever.with_mode(mode).retrieve(question, 5, exclude)
            theirs = qa.retriever.with_mode(mode).retrieve(question, 5, exclude)
            assert [p.chunk.id for p in ours] == [p.chunk.id for p in theirs], question
            assert [p.score for p in ours] == [p.score for p in theirs]
            assert np.allclose([p.dense_score for p in ours], [p.dense_score for p in theirs], atol=1e-5)
            assert np.allclose([p.lexical_score for p in ours], [p.lexical_score for p in theirs], rtol=1e-4)


def test_milvus_answers_as_the_embedded_index_does(milvus_qa, qa):
    for question in QUESTIONS[::4]:
        assert milvus_qa.ask(question).to_dict() == qa.ask(question).to_dict(), question


def test_a_changed_corpus_makes_the_collection_stale_and_a_rebuild_switches_the_alias(
        milvus_server, tmp_path, corpus_copy, embedder, caplog):
    config = private(milvus_server, tmp_path, corpus_copy)
    backend = open_backend(config)
    first = build_index(config, embedder)
    stamp = backend.stamp()
    target = corpus_copy / "004_4a7d70616bb311fd.txt"
    target.write_bytes(target.read_bytes() + b"\n\nAn added sentence about rib expansion in adults.")
    with caplog.at_level(logging.WARNING):
        index = open_index(config, embedder)
    assert "stale" in caplog.text and "004_4a7d70616bb311fd.txt" in caplog.text
    assert any("An added sentence" in c.text for c in index.chunks) and index.manifest.reused > 0
    assert backend.stamp() != stamp and first.manifest.corpus != index.manifest.corpus
    build_index(config, embedder)  # a third build: the first is dropped, the one before the current kept
    assert len(backend._builds()) == 2


def test_a_collection_emhqa_did_not_make_is_named_with_the_fix(milvus_server, tmp_path, corpus_copy, embedder,
                                                              monkeypatch, capsys):
    config = private(milvus_server, tmp_path, corpus_copy)
    client = open_backend(config).client
    client.create_collection(config.store.collection, dimension=4)
    with pytest.raises(StoreError, match="emhqa did not make; drop it, or name another collection in EMHQA_STORE"):
        open_index(config, embedder)
    monkeypatch.setenv("EMHQA_STORE", f"{milvus_server}/{config.store.collection}")
    monkeypatch.setenv("EMHQA_CORPUS", str(corpus_copy))
    monkeypatch.setenv("EMHQA_INDEX", str(config.index_dir))
    assert main(["ask", "Do EMH masses calcify?"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "did not make" in err


def test_an_unreachable_milvus_is_one_line_naming_the_fix(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("EMHQA_STORE", f"milvus://127.0.0.1:{port}")
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))
    assert main(["ask", "Do EMH masses calcify?"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot reach Milvus" in err and "EMHQA_STORE" in err


def test_a_milvus_lite_file_serves_one_process(tmp_path, embedder):
    pytest.importorskip("milvus_lite")
    config = Config(corpus_dir=REPO_ROOT / "corpus", index_dir=tmp_path / "lock",
                    store=StoreSettings.parse(str(tmp_path / "emhqa.db")))
    from emhqa.pipeline import load

    answer = load(config, index=open_index(config, embedder)).ask("Do EMH masses calcify?")
    assert not answer.abstained and "calcify" in answer.text


WATCHER = """
import sys, time
from emhqa.config import Config
from emhqa.freshness import fingerprint, open_with_fingerprint
from emhqa.pipeline import load
config = Config()
index, stamp = open_with_fingerprint(config)
qa = load(config, index=index)
print("ready", flush=True)
while True:  # as the app does before every question: reload when the corpus or the build changed
    if fingerprint(config) != stamp:
        index, stamp = open_with_fingerprint(config)
        qa = load(config, index=index)
    answer = qa.ask(sys.argv[1])
    if any(c.source == "my-case.md" for c in answer.citations):
        print("cited", time.time(), answer.citations[0].quote, flush=True)
        break
    time.sleep(0.1)
"""


def test_a_document_added_in_one_process_is_cited_by_another_within_5_seconds(milvus_server, tmp_path, corpus_copy,
                                                                              milvus_config):
    config = private(milvus_server, tmp_path, corpus_copy)
    env = {**os.environ, "EMHQA_STORE": f"{milvus_server}/{config.store.collection}",
           "EMHQA_CORPUS": str(corpus_copy), "EMHQA_INDEX": str(config.index_dir), "EMHQA_FEEDBACK": "off"}
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER, QUESTION], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None and watcher.stdout.readline().strip() == "ready"
        (tmp_path / "my-case.md").write_text(CASE, encoding="utf-8")
        added = subprocess.run([sys.executable, "-m", "emhqa", "add", str(tmp_path / "my-case.md"), "--title",
                                "My case: epidural EMH", "--kind", "case"], env=env, capture_output=True, text=True,
                               timeout=300)
        done = time.time()
        assert added.returncode == 0, added.stderr[-2000:]
        line = watcher.stdout.readline().split(maxsplit=2)
        watcher.wait(timeout=60)
    finally:
        watcher.kill()
    assert line[0] == "cited" and "20 Gy" in line[2]
    print(f"\nMILVUS an add in one process cited by another {float(line[1]) - done:+.2f} s after the add returned")
    assert float(line[1]) - done <= 5


ASKER = """
import json, sys
from emhqa.config import Config
from emhqa.pipeline import load
qa = load(Config())
print(json.dumps([qa.ask(q).to_dict() for q in json.loads(sys.argv[1])]))
"""


def test_four_processes_asking_at_once_get_the_answers_of_one_asking_in_turn(milvus_server, milvus_config,
                                                                              milvus_qa):
    questions = QUESTIONS[:50]
    sequential = [milvus_qa.ask(q).to_dict() for q in questions]
    env = {**os.environ, "EMHQA_STORE": f"{milvus_server}/{milvus_config.store.collection}",
           "EMHQA_CORPUS": str(milvus_config.corpus_dir), "EMHQA_INDEX": str(milvus_config.index_dir),
           "EMHQA_FEEDBACK": "off"}
    askers = [subprocess.Popen([sys.executable, "-c", ASKER, json.dumps(questions[n:] + questions[:n])], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (0, 13, 26, 39)]
    for n, asker in zip((0, 13, 26, 39), askers):
        out, err = asker.communicate(timeout=600)
        assert asker.returncode == 0, err[-2000:]
        answers = json.loads(out)
        assert answers == sequential[n:] + sequential[:n]


def test_loads_while_another_process_rebuilds_see_whole_builds(milvus_server, tmp_path, corpus_copy, embedder):
    config = private(milvus_server, tmp_path, corpus_copy)
    build_index(config, embedder)
    env = {**os.environ, "EMHQA_STORE": f"{milvus_server}/{config.store.collection}"}
    rebuilder = subprocess.Popen([sys.executable, "-c", REBUILD_LOOP, str(corpus_copy), str(config.index_dir), "8"],
                                 env=env, stdout=subprocess.PIPE, text=True)
    assert rebuilder.stdout is not None and rebuilder.stdout.readline().strip() == "ready"
    loads, failures, chunks = 0, [], set()
    while rebuilder.poll() is None:
        try:
            chunks.add(len(open_index(config, embedder).chunks))
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            failures.append(f"{type(exc).__name__}: {exc}")
        loads += 1
    builds = int(rebuilder.stdout.read().split()[-1])
    print(f"\nMILVUS loads during rebuilds: {loads} loads, {builds} builds switched in, {len(failures)} failed")
    assert builds >= 2 and loads >= 5 and failures == [] and len(chunks) == 1
    assert fingerprint(config)
