"""Shared fixtures: the real corpus, the real model loaded once, every index in a temporary folder."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> Iterator[str]:
    """``milvus-lite server`` on 127.0.0.1, a free port, in its own process (Milvus's gRPC protocol);
    its ``EMHQA_STORE`` prefix ``milvus://127.0.0.1:PORT``. Skipped only when milvus-lite is not installed
    (in CI, where the test extra installs it, that fails)."""
    if os.environ.get("CI"):
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install -e '.[test]')")
    pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (pip install -e '.[test]')")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("milvus")
    log = open(folder / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-c", "from milvus_lite.cmdline import main; main()", "server",
                               "--data-dir", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "milvus-lite server did not start within 60 s"
                time.sleep(0.2)
        yield f"milvus://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def milvus_config(milvus_server, tmp_path_factory) -> Config:
    """The real corpus built into the session's Milvus server (collection ``session``)."""
    from emhqa.config import StoreSettings
    from emhqa.embedding import shared_embedder
    from emhqa.index import build_index

    config = Config(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("milvus-lock"),
                    store=StoreSettings.parse(f"{milvus_server}/session"))
    build_index(config, shared_embedder())
    return config


@pytest.fixture(scope="session")
def milvus_qa(milvus_config):
    from emhqa.pipeline import load

    return load(milvus_config)
