"""Failures a user can cause or meet: each is one readable line naming the fix, exit 1 or 2, no traceback."""
from __future__ import annotations

import errno
import math
import shutil
import subprocess
import sys

import pytest

from emhqa.cli import main
from emhqa.config import Config, LLMSettings
from emhqa.errors import ConfigError, IndexDamagedError, QuestionError
from emhqa.index import open_index
from emhqa.pipeline import QA

REBUILD_LOOP = """
import sys, time
from emhqa.config import Config
from emhqa.embedding import shared_embedder
from emhqa.index import build_index
config, embedder = Config(corpus_dir=sys.argv[1], index_dir=sys.argv[2]), shared_embedder()
print("ready", flush=True)
builds, stop = 0, time.monotonic() + float(sys.argv[3])
while time.monotonic() < stop:
    build_index(config, embedder)
    builds += 1
print(builds, flush=True)
"""


@pytest.fixture
def index_config(built_config, tmp_path) -> Config:
    """A private copy of the session's index."""
    shutil.copytree(built_config.index_dir, tmp_path / "index")
    return built_config.with_(index_dir=tmp_path / "index")


def test_loads_while_another_process_rebuilds_never_report_damage(index_config, embedder):
    seconds = 10
    process = subprocess.Popen([sys.executable, "-c", REBUILD_LOOP, str(index_config.corpus_dir),
                                str(index_config.index_dir), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    loads, failures = 0, []
    while process.poll() is None:
        try:
            open_index(index_config, embedder)
        except IndexDamagedError as exc:
            failures.append(str(exc))
        loads += 1
    builds = int(process.stdout.read().split()[-1])
    print(f"\nRELIABILITY loads during rebuilds: {loads} loads, {builds} builds swapped in, "
          f"{len(failures)} failed")
    assert builds >= 10 and loads >= 100
    assert failures == []


def one_line_error(capsys) -> str:
    """The command's stderr, which must be one line starting 'emhqa: ' (no traceback)."""
    err = capsys.readouterr().err.strip()
    assert err.startswith("emhqa: ") and "\n" not in err and "Traceback" not in err, err
    return err


QUESTION = "Do EMH masses calcify?"


@pytest.mark.parametrize("argument", [b"Do EMH \xff\xfe masses calcify?", "Do EMH \ud800 masses calcify?".encode(
    "utf-8", "surrogatepass")])
def test_a_question_that_is_not_utf8_is_a_usage_error(argument):
    result = subprocess.run([sys.executable, "-m", "emhqa.cli", "ask", argument], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("emhqa: the question holds") and result.stderr.count("\n") == 1
    assert "type it again in UTF-8" in result.stderr


@pytest.mark.parametrize("question", ["Do EMH \ud800 masses calcify?", "\udcff" * 3])
def test_the_library_refuses_a_lone_surrogate_with_the_input_error(qa, question):
    with pytest.raises(QuestionError, match="not text"):
        qa.ask(question)


CURRENT_FAULTS = {
    "names a missing build": lambda index: (index / "CURRENT").write_text("build-missing"),
    "names a file": lambda index: ((index / "build-file").write_text("x"),
                                   (index / "CURRENT").write_text("build-file")),
    "holds bytes that are not UTF-8": lambda index: (index / "CURRENT").write_bytes(b"build-\xff\xfe"),
}


@pytest.mark.parametrize("fault", CURRENT_FAULTS)
def test_a_broken_current_pointer_names_the_rebuild_which_fixes_it(index_config, monkeypatch, capsys, fault):
    monkeypatch.setenv("EMHQA_INDEX", str(index_config.index_dir))
    CURRENT_FAULTS[fault](index_config.index_dir)
    assert main(["ask", QUESTION]) == 1
    err = one_line_error(capsys)
    assert "CURRENT" in err and err.endswith("Run `emhqa index --rebuild` to rebuild the index.")
    assert main(["index", "--rebuild"]) == 0
    assert main(["ask", QUESTION]) == 0 and "[1]" in capsys.readouterr().out


def test_a_current_pointer_that_is_a_folder_says_to_remove_it(index_config, monkeypatch, capsys):
    monkeypatch.setenv("EMHQA_INDEX", str(index_config.index_dir))
    (index_config.index_dir / "CURRENT").unlink()
    (index_config.index_dir / "CURRENT").mkdir()
    for command in (["ask", QUESTION], ["index", "--rebuild"]):
        assert main(command) == 1
        assert "is a folder" in one_line_error(capsys)
    (index_config.index_dir / "CURRENT").rmdir()
    assert main(["index", "--rebuild"]) == 0


def test_emhqa_corpus_pointing_nowhere_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMHQA_CORPUS", str(tmp_path / "nowhere"))
    assert main(["ask", QUESTION]) == 2
    assert "EMHQA_CORPUS=" in one_line_error(capsys)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "12.5", "many"])
def test_a_bad_llm_variable_is_named_for_the_llm_only_and_extractive_answers_still_work(built_config, monkeypatch,
                                                                                       capsys, value):
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    monkeypatch.setenv("EMHQA_LLM_MAX_TOKENS", value)
    assert main(["ask", QUESTION]) == 0 and "[1]" in capsys.readouterr().out
    assert main(["ask", QUESTION, "--generator", "llm"]) == 2
    assert "max_tokens must be a whole number" in one_line_error(capsys)


def test_the_library_checks_llm_settings_when_the_llm_generator_is_made(qa, monkeypatch):
    config = qa.config.with_(llm=LLMSettings(timeout=math.inf))
    assert not QA(config, qa.index, qa.encoder, qa.texts).ask(QUESTION).abstained
    with pytest.raises(ConfigError, match="timeout must be"):
        QA(config, qa.index, qa.encoder, qa.texts).ask(QUESTION, generator="llm")


@pytest.mark.parametrize("name", [":", "..x:y", "json:", "emhqa.nope:make"])
def test_a_malformed_generator_path_is_a_clear_error(built_config, monkeypatch, capsys, name):
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    assert main(["ask", QUESTION, "--generator", name]) == 1
    assert f"cannot import generator {name!r}" in one_line_error(capsys)


def test_a_stale_index_in_a_read_only_folder_says_so_and_names_the_fix(index_config, corpus_copy, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv("EMHQA_INDEX", str(index_config.index_dir))
    monkeypatch.setenv("EMHQA_CORPUS", str(corpus_copy))
    with (corpus_copy / "004_4a7d70616bb311fd.txt").open("a", encoding="utf-8") as out:
        out.write("\n\nAn added sentence about rib expansion in adults.\n")
    before = sorted(p.name for p in index_config.index_dir.iterdir())

    def read_only(index_dir):  # what opening the lock file raises in a read-only folder (tests run as root)
        raise PermissionError(errno.EROFS, "Read-only file system", str(index_dir / ".lock"))

    monkeypatch.setattr("emhqa.index.embedded.build_lock", read_only)
    assert main(["ask", QUESTION]) == 1
    err = one_line_error(capsys)
    assert "the index is stale (corpus files changed" in err and "Read-only file system" in err
    assert "EMHQA_INDEX" in err and "emhqa index" in err
    assert sorted(p.name for p in index_config.index_dir.iterdir()) == before
