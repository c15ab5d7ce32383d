"""Shared fixtures: the real corpus, the real model loaded once, every index in a temporary folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emhqa.config import REPO_ROOT, Config

CORPUS = REPO_ROOT / "corpus"


@pytest.fixture(scope="session")
def embedder():
    from emhqa.embedding import shared_embedder

    return shared_embedder()


@pytest.fixture(scope="session")
def built_config(tmp_path_factory) -> Config:
    """The real corpus with an index built once per session in a temporary folder."""
    from emhqa.embedding import shared_embedder
    from emhqa.index import build_index

    config = Config(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index"))
    build_index(config, shared_embedder())
    return config


@pytest.fixture(scope="session")
def qa(built_config):
    from emhqa.pipeline import load

    return load(built_config)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A private copy of the corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


def corpus_text(source: str) -> str:
    return (CORPUS / source).read_bytes().decode("utf-8")
