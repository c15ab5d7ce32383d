import json
import logging

import numpy as np
import pytest

from emhqa.chunking import CHUNKING_VERSION
from emhqa.config import Config
from emhqa.errors import IndexDamagedError
from emhqa.index import FILES, FORMAT, IndexManifest, build_index, current_build, load_index, open_index


@pytest.fixture
def config(tmp_path, corpus_copy):
    return Config(corpus_dir=corpus_copy, index_dir=tmp_path / "index")


def test_round_trip_keeps_chunks_vectors_and_build_metadata(config, embedder):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    index = load_index(build)
    manifest = json.loads((build / "manifest.json").read_text())
    assert len(index.vectors) == len(index.chunks) == manifest["counts"]["chunks"] > 20
    assert manifest["model_id"].startswith("sentence-transformers/all-MiniLM-L6-v2")
    assert manifest["dimension"] == 384 and set(manifest["files"]) == set(FILES)
    assert set(manifest["corpus"]) >= {"manifest.json", "001_717d4dda9e782864.txt"}
    assert {"faiss-cpu", "sentence-transformers"} <= set(manifest["versions"])
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-4)
    assert not list(config.index_dir.glob("*.tmp"))
    assert IndexManifest.read(build) == index.manifest and index.manifest.chunking_version == CHUNKING_VERSION
    index.manifest.write(config.index_dir)
    assert json.loads((config.index_dir / "manifest.json").read_text()) == manifest


def test_missing_index_is_built_on_first_open(config, embedder):
    assert current_build(config.index_dir) is None
    assert len(open_index(config, embedder).chunks) > 20


def test_changed_corpus_is_detected_and_rebuilt_with_a_message(config, embedder, caplog):
    build_index(config, embedder)
    first = current_build(config.index_dir)
    target = config.corpus_dir / "004_4a7d70616bb311fd.txt"
    target.write_bytes(target.read_bytes() + b"\n\nAn added sentence about rib expansion in adults.")
    with caplog.at_level(logging.WARNING):
        index = open_index(config, embedder)
    assert "stale" in caplog.text and "004_4a7d70616bb311fd.txt" in caplog.text
    assert current_build(config.index_dir) != first
    assert any("An added sentence" in c.text for c in index.chunks)


def test_index_of_another_model_is_stale(config, embedder, caplog):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["model_id"] = "some-other-model"
    (build / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        open_index(config, embedder)
    assert "some-other-model" in caplog.text


def test_index_of_another_chunking_version_is_stale(config, embedder, caplog):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["chunking"]["version"] = CHUNKING_VERSION - 1
    (build / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        index = open_index(config, embedder)
    assert "parsing or chunking code changed" in caplog.text
    assert index.manifest.chunking_version == CHUNKING_VERSION


def test_a_build_of_an_older_format_is_rebuilt_not_reported_as_damage(config, embedder, caplog):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format"] = FORMAT - 1  # format 1 kept sentence vectors in a NumPy file
    (build / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        index = open_index(config, embedder)
    assert "written by an older emhqa" in caplog.text and f"format {FORMAT - 1}" in caplog.text
    assert current_build(config.index_dir) != build and len(index.chunks) > 20
    assert json.loads((current_build(config.index_dir) / "manifest.json").read_text())["format"] == FORMAT


@pytest.mark.parametrize("field", ["dimension", "documents", "files"])
def test_a_manifest_without_a_field_is_reported_as_damage(config, embedder, field):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    del manifest[field]
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexDamagedError, match=f"unknown format.*{field}.*emhqa index --rebuild"):
        open_index(config, embedder)


@pytest.mark.parametrize("name", FILES)
def test_damaged_or_missing_files_raise_an_error_naming_the_rebuild(config, embedder, name):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    data = (build / name).read_bytes()
    (build / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexDamagedError, match="emhqa index --rebuild"):
        open_index(config, embedder)
    (build / name).unlink()
    with pytest.raises(IndexDamagedError, match="missing"):
        open_index(config, embedder)
    assert len(open_index(config, embedder, rebuild=True).chunks) > 20


def test_unreadable_manifest_is_reported_as_damage(config, embedder):
    build_index(config, embedder)
    build = current_build(config.index_dir)
    (build / "manifest.json").write_text("{not json")
    with pytest.raises(IndexDamagedError, match="emhqa index --rebuild"):
        open_index(config, embedder)


def test_a_failed_build_leaves_the_previous_index_loadable(config, embedder, monkeypatch):
    build_index(config, embedder)
    good = current_build(config.index_dir)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("emhqa.index.store.faiss.write_index", explode)
    with pytest.raises(RuntimeError):
        build_index(config, embedder)
    assert current_build(config.index_dir) == good
    assert len(load_index(good).chunks) > 20


def test_loading_emhqa_changes_no_environment_variable(built_config):
    import os
    import subprocess
    import sys

    # the libraries' own import-time settings (torch's KMP_*) are taken before the snapshot
    code = ("import os, json, faiss, torch, sentence_transformers, onnxruntime; before = dict(os.environ); import emhqa; "
            "emhqa.load(emhqa.Config(corpus_dir=os.environ['C'], index_dir=os.environ['I'])).ask('Do EMH masses calcify?'); "
            "from emhqa.embedding import shared_embedder, SentenceTransformerEmbedder; SentenceTransformerEmbedder(); "
            "print(json.dumps(sorted(set(os.environ.items()) ^ set(before.items()))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "C": str(built_config.corpus_dir), "I": str(built_config.index_dir)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
