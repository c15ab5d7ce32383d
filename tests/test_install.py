"""emhqa as a new user gets it: installed as a wheel into a fresh venv and run from an empty folder (the
bundled corpus, a per-user index, nothing written into the package), and a fresh machine's embedding
backend (ONNX Runtime, exported once without a warning, repaired when the export is damaged)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from emhqa.config import REPO_ROOT, Config

QUESTION = "How is EMH treated?"
SOURCES = ("pyproject.toml", "README.md", "emhqa", "corpus")  # what a wheel is built from
CASE = "# Case: a paraspinal mass\n\n## History\n\nA 40-year-old woman with thalassemia had back pain.\n"


@dataclass(frozen=True)
class Installed:
    """A fresh venv with emhqa installed from a wheel; ``env`` points HOME and the data folders into ``root``."""

    root: Path
    venv: Path
    package: Path  # the installed emhqa folder in the venv's site-packages
    workdir: Path  # an empty folder to run from
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.venv / "bin" / "emhqa"), *args], capture_output=True, text=True,
                              cwd=self.workdir, env={**self.env, **env}, timeout=600)

    def python(self, code: str) -> str:
        return venv_python(self.venv, code, self.env, self.workdir)

    @property
    def data_dir(self) -> Path:
        """platformdirs' per-user data folder for emhqa, as the installed package sees it."""
        return Path(self.python("import platformdirs; print(platformdirs.user_data_dir('emhqa'))"))


def venv_python(venv: Path, code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120, check=True)
    return done.stdout.strip()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """``pip install`` of a wheel built from a copy of the repository, dependencies taken from the test
    venv: its site-packages is put on the new venv's path by a plain path line, so that its ``.pth``
    files (the editable install's finder, which maps ``emhqa`` to this checkout) are never run."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "dist"),
                    str(source)], check=True, timeout=600)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", "--no-index",
                    *map(str, (root / "dist").glob("emhqa-*.whl"))], check=True, timeout=600)
    purelib = Path(venv_python(venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
    (purelib / "test-venv-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("EMHQA_", "XDG_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(root / "home"), XDG_DATA_HOME=str(root / "data"), XDG_CONFIG_HOME=str(root / "config"),
               XDG_CACHE_HOME=str(root / "cache"), EMHQA_CACHE=str(Config().cache_dir))  # the model is exported once
    for folder in ("home", "workdir"):
        (root / folder).mkdir()
    return Installed(root, venv, purelib / "emhqa", root / "workdir", env)


def test_the_installed_package_is_imported_from_the_venv_not_from_the_checkout(installed):
    location = Path(installed.python("import emhqa; print(emhqa.__file__)"))
    assert location == installed.package / "__init__.py"
    assert REPO_ROOT not in location.parents
    assert (installed.package / "py.typed").is_file()


def test_the_bundled_corpus_ships_every_file_its_manifest_lists(installed):
    bundled = installed.package / "bundled_corpus"
    manifest = json.loads((bundled / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in bundled.iterdir()) == sorted([*manifest, "manifest.json"])
    for name in manifest:
        assert (bundled / name).read_bytes() == (REPO_ROOT / "corpus" / name).read_bytes()


def test_ask_answers_from_the_bundled_corpus_and_writes_its_index_to_the_user_data_folder(installed):
    before = snapshot(installed.package)
    result = installed.run("ask", QUESTION, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and answer["citations"]
    for citation in answer["citations"]:
        text = (installed.package / "bundled_corpus" / citation["source"]).read_text(encoding="utf-8")
        assert text[citation["start"]:citation["end"]] == citation["quote"]
    assert installed.root in installed.data_dir.parents
    assert (installed.data_dir / "index" / "CURRENT").is_file()
    assert snapshot(installed.package) == before  # nothing written into the installed package
    assert list(installed.workdir.iterdir()) == []  # nor into the folder it ran from
    plain = installed.run("-q", "ask", QUESTION)
    assert plain.returncode == 0 and "Sources:\n[1] " in plain.stdout and plain.stderr == ""


def test_add_remove_and_tune_refuse_to_change_the_installed_package(installed, tmp_path):
    (tmp_path / "case.md").write_text(CASE, encoding="utf-8")
    before = snapshot(installed.package)
    for args in (("add", str(tmp_path / "case.md"), "--title", "Case", "--kind", "case"),
                 ("remove", "000_78d6eeaffc1a6cb0.txt")):
        result = installed.run(*args)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and "the bundled corpus" in result.stderr
        assert "is read-only" in result.stderr and "EMHQA_CORPUS" in result.stderr
    for args in (("tune",), ("eval",)):
        result = installed.run(*args)
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "source checkout" in result.stderr
    assert snapshot(installed.package) == before


def test_emhqa_corpus_and_emhqa_index_override_the_installed_defaults(installed, tmp_path):
    """The fix the read-only error names: a copy of the bundled corpus of one's own, here with its own index."""
    corpus, index = tmp_path / "my-corpus", tmp_path / "my-index"
    shutil.copytree(installed.package / "bundled_corpus", corpus)
    (tmp_path / "case.md").write_text(CASE, encoding="utf-8")
    before = snapshot(installed.package), snapshot(installed.data_dir)
    result = installed.run("add", str(tmp_path / "case.md"), "--title", "Case", "--kind", "case",
                           EMHQA_CORPUS=str(corpus), EMHQA_INDEX=str(index))
    assert result.returncode == 0, result.stderr
    assert f"index ready in {index}:" in result.stdout and (index / "CURRENT").is_file()
    assert (corpus / "case.md").is_file()
    assert (snapshot(installed.package), snapshot(installed.data_dir)) == before


def run_embedder(cache: Path) -> subprocess.CompletedProcess:
    """A new process that loads the default embedding backend with ``cache`` as its cache, logging as
    the CLI does, and prints the embedder's class."""
    code = ("import logging; logging.basicConfig(format='emhqa: %(message)s')\n"
            "from emhqa.embedding import shared_embedder\n"
            "embedder = shared_embedder(); embedder.encode(['EMH']); print(type(embedder).__name__)")
    env = {k: v for k, v in os.environ.items() if k != "EMHQA_EMBEDDING_BACKEND"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**env, "EMHQA_CACHE": str(cache)})


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """An empty cache folder after the first process on a fresh machine, and that process."""
    cache = tmp_path_factory.mktemp("empty-cache")
    return cache, run_embedder(cache)


def test_a_fresh_machine_gets_the_onnx_backend_without_a_warning(fresh_cache):
    cache, result = fresh_cache
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OnnxEmbedder" and result.stderr == ""
    assert len(list(cache.glob("*.onnx"))) == 1 and not list(cache.glob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_export_is_exported_again_with_one_line(fresh_cache, tmp_path, damage):
    cache = tmp_path / "cache"
    shutil.copytree(fresh_cache[0], cache)
    (exported,) = cache.glob("*.onnx")
    data = exported.read_bytes()
    exported.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"")
    result = run_embedder(cache)
    assert result.returncode == 0 and result.stdout.strip() == "OnnxEmbedder", result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"emhqa: the exported embedding model {exported} cannot be loaded")
    assert result.stderr.rstrip().endswith("exporting it again")
    again = run_embedder(cache)
    assert again.stdout.strip() == "OnnxEmbedder" and again.stderr == ""


def test_onnx_runtime_threads_do_not_spin_after_a_run(embedder):
    options = embedder._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
