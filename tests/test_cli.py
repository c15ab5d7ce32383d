import json
import os
import subprocess
import sys

import pytest


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
