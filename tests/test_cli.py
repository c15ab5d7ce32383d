import json
import os
import subprocess
import sys

import pytest

from emhqa.cli import main


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "emhqa.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.parametrize("question", ["", "   ", "y" * 2001])
def test_bad_questions_exit_2_with_the_reason_on_stderr(question):
    result = run("ask", question)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.startswith("emhqa: the question")


def test_ask_json_prints_the_answer_dict(built_config):
    result = run("ask", "Do EMH masses calcify?", "--json", "-k", "4",
                 env={"EMHQA_INDEX": str(built_config.index_dir)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["abstained"] is False and len(data["passages"]) == 4
    citation = data["citations"][0]
    text = (built_config.corpus_dir / citation["source"]).read_text(encoding="utf-8")
    assert text[citation["start"]:citation["end"]] == citation["quote"]


def test_damaged_index_exits_1_naming_the_rebuild(tmp_path, built_config):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(built_config.index_dir, index_dir)
    build = index_dir / (index_dir / "CURRENT").read_text().strip()
    (build / "dense.faiss").write_bytes(b"garbage")
    result = run("ask", "Do EMH masses calcify?", env={"EMHQA_INDEX": str(index_dir)})
    assert result.returncode == 1
    assert "emhqa index --rebuild" in result.stderr


def test_unknown_generator_is_a_clear_error(built_config):
    result = run("ask", "Do EMH masses calcify?", "--generator", "nope",
                 env={"EMHQA_INDEX": str(built_config.index_dir)})
    assert result.returncode == 1 and "unknown generator 'nope'" in result.stderr


def test_version_and_python_dash_m():
    from emhqa import __version__

    for command in ([sys.executable, "-m", "emhqa", "--version"], [sys.executable, "-m", "emhqa.cli", "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == f"emhqa {__version__}"


@pytest.mark.parametrize("args", [("ask", "-"), ("ask",)])
def test_ask_reads_the_question_from_standard_input(built_config, args):
    done = subprocess.run([sys.executable, "-m", "emhqa", "-q", *args, "--json"], input="Do EMH masses calcify?\n",
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "EMHQA_INDEX": str(built_config.index_dir)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["question"] == "Do EMH masses calcify?" and done.stderr == ""


@pytest.mark.parametrize("option", ["--questions", "--json", "--markdown", "--trec", "--per-question"])
def test_a_path_holding_a_nul_is_a_usage_error_before_any_work(option, capsys):
    # in this process: a NUL cannot reach a subprocess's arguments
    with pytest.raises(SystemExit) as exit_:
        main(["eval", option, "report\x00.json"])
    assert exit_.value.code == 2 and "cannot hold a NUL character" in capsys.readouterr().err


def test_verbose_and_quiet_are_exclusive():
    assert run("-v", "-q", "ask", "x").returncode == 2
