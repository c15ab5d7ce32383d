"""A fuzz run over the CLI's argument and environment surface (issue 12): never a traceback.

Generated argument lists (commands, flags and hostile values in any order) and EMHQA_* variables
(empty, NaN, huge, paths that are files or missing, non-UTF-8-looking text) are run through
``emhqa.cli.main`` in this process against a copy of the test index. Every run must end with an exit
status (0, 1 or 2) and, when it fails, say so on stderr; an exception escaping ``main`` is a traceback.
"""
from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from emhqa.cli import main

WORDS = ["ask", "index", "eval", "tune", "add", "remove", "chat", "--json", "-k", "0", "51", "3", "-1", "nan",
         "--generator", ":", "llm", "extractive", "nope", "--regime", "bogus", "dev", "--split", "x", "--rebuild",
         "--title", "--kind", "faq", "case", "--replace", "--version", "-v", "-q", "-vv", "--stream", "-",
         "Do EMH masses calcify?", "", " ", "\x00", "\udcff", "../etc/passwd", "/nonexistent", "manifest.json",
         "--llm-timeout", "inf", "--llm-max-tokens", "1e9", "--llm-temperature", "-5", "--questions", "--help"]
ENV = {"EMHQA_LLM_TIMEOUT": ["", "nan", "0", "1e99", "x"], "EMHQA_LLM_MAX_TOKENS": ["", "-3", "inf", "2.5"],
       "EMHQA_LLM_TEMPERATURE": ["", "nan", "9"], "EMHQA_EMBEDDING_BACKEND": ["", "onnx", "bogus"],
       "EMHQA_FEEDBACK": ["off", "/nonexistent/dir/f.jsonl"], "EMHQA_MODEL": ["", " "]}
SAFE = {"tune", "remove", "add", "index", "chat", "eval"}  # would change files or run long: checked apart


@pytest.fixture(scope="module")
def index_copy(built_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(built_config.index_dir, folder / "index")
    shutil.copytree(built_config.corpus_dir, folder / "corpus")
    return folder


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([[], ["ask"], ["ask", "Do EMH masses calcify?"], ["eval", "--questions"]]),
       rest=st.lists(st.sampled_from(WORDS), max_size=5),
       env=st.dictionaries(st.sampled_from(sorted(ENV)), st.integers(0, 4), max_size=3))
@example(start=["eval", "--questions"], rest=["\x00"], env={})  # found by this run: a NUL in the file name
def test_no_argument_list_or_environment_ends_in_a_traceback(start, rest, env, index_copy, monkeypatch):
    argv = start + rest
    if SAFE & set(argv[:1]) and argv[:2] != ["eval", "--questions"]:
        argv = ["ask", *argv[1:]]  # the fuzz asks; commands that change files have their own tests
    monkeypatch.setenv("EMHQA_CORPUS", str(index_copy / "corpus"))
    monkeypatch.setenv("EMHQA_INDEX", str(index_copy / "index"))
    for name, choice in env.items():
        monkeypatch.setenv(name, ENV[name][choice % len(ENV[name])])
    monkeypatch.setattr("sys.stdin", io.StringIO("Do EMH masses calcify?\n"))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse: usage errors (2), --help and --version (0)
            status = exit_.code
    assert status in (0, 1, 2), (argv, env, status)
    if status:
        assert err.getvalue().strip(), (argv, env)
        assert "Traceback" not in err.getvalue()
