"""The Streamlit page, driven by streamlit's AppTest on the real corpus and model."""
from __future__ import annotations

import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from emhqa.config import REPO_ROOT
from emhqa.generation import REGISTRY, Generator
from emhqa.index import current_build

APP = str(REPO_ROOT / "app.py")


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def shown(app: AppTest) -> list[str]:
    return [unescape(m.value) for m in app.markdown]


@pytest.fixture
def app(built_config, monkeypatch) -> AppTest:
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    page = AppTest.from_file(APP, default_timeout=300).run()
    assert not page.exception
    return page


def test_an_answer_shows_numbered_sources_quoted_verbatim_from_the_corpus(app, built_config):
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert not app.exception
    [entry] = app.session_state["history"]
    answer = entry["answer"]
    assert not answer.abstained and answer.citations
    texts = [m for m in shown(app)]
    assert any("[1]" in text for text in texts)  # the answer carries its markers
    for citation in answer.citations:
        corpus_text = (built_config.corpus_dir / citation.source).read_text(encoding="utf-8")
        assert corpus_text[citation.start:citation.end] == citation.quote
        quote = " ".join(citation.quote.split())
        # an extractive answer is its quotes: shown once, in the answer, with its source and offsets
        assert "> " + quote not in texts and any(quote in text and f"[{citation.marker}]" in text for text in texts)
        assert any(f"characters {citation.start}–{citation.end}" in text for text in texts)
    assert len(app.expander) >= len(answer.citations)  # each source expands to its full section
    assert any("not medical advice" in c.value for c in app.caption)


def test_an_off_topic_question_shows_the_abstention_and_no_source(app):
    app.chat_input[0].set_value("What is the capital of Australia?").run()
    assert not app.exception
    assert app.session_state["history"][0]["answer"].abstained
    assert any("do not cover" in info.value for info in app.info)
    assert not any(t.startswith("> ") for t in shown(app))
    assert any("not medical advice" in c.value for c in app.caption)


def test_an_empty_question_warns_and_keeps_the_history_empty(app):
    app.chat_input[0].set_value("   \n ").run()
    assert not app.exception
    assert app.session_state["history"] == []
    assert any("empty" in w.value for w in app.warning)


def test_history_with_its_citations_survives_a_rerun_and_can_be_cleared(app):
    app.button(key="example-1").click().run()
    assert len(app.session_state["history"]) == 1
    app.run()
    assert len(app.session_state["history"]) == 1
    assert any("characters" in t for t in shown(app))  # the answer's source line is still there
    next(b for b in app.sidebar.button if b.label == "Clear chat").click().run()
    assert app.session_state["history"] == []


def test_markup_in_a_question_is_shown_as_text(app):
    app.chat_input[0].set_value("<script>alert('x')</script> **EMH** treatment?").run()
    assert not app.exception
    question = app.chat_message[0].markdown[0].value
    assert "\\<script\\>" in question and unescape(question).startswith("<script>alert('x')</script> **EMH**")


def test_the_sidebar_offers_the_registry_and_shows_scored_passages(app):
    assert "extractive" in app.sidebar.selectbox[0].options
    assert app.sidebar.slider[0].value == 5
    assert any("chunks" in c.value and "all-MiniLM-L6-v2" in unescape(c.value) for c in app.sidebar.caption)
    app.sidebar.toggle[0].set_value(True).run()
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert app.dataframe and len(app.dataframe[0].value) == 5


class Broken(Generator):
    name = "broken"

    def generate(self, question, passages):
        raise RuntimeError("model server exploded")


def test_a_failing_generator_is_a_message_and_the_chat_keeps_working(built_config, monkeypatch):
    monkeypatch.setitem(REGISTRY, "broken", lambda **_: Broken())
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.sidebar.selectbox[0].set_value("broken").run()
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert not app.exception
    assert any("broken" in e.value and "failed" in e.value for e in app.error)
    app.sidebar.selectbox[0].set_value("extractive").run()
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert len(app.session_state["history"]) == 1


def test_a_damaged_index_is_reported_and_the_rebuild_button_fixes_it(built_config, tmp_path, monkeypatch):
    index_dir = tmp_path / "index"
    shutil.copytree(built_config.index_dir, index_dir)
    with open(current_build(index_dir) / "dense.faiss", "r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff\xff")
    monkeypatch.setenv("EMHQA_INDEX", str(index_dir))
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception
    assert any("emhqa index --rebuild" in e.value for e in app.error)
    next(b for b in app.sidebar.button if b.label == "Rebuild the index").click().run()
    assert not app.exception and not app.error
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert app.session_state["history"][0]["answer"].citations


def test_the_llm_generator_answers_in_the_page_and_shows_what_it_removed(built_config, monkeypatch):
    from openai_stub import Reply, ScriptedOpenAI, passages_in

    with ScriptedOpenAI() as stub:
        stub.default = Reply(lambda m: passages_in(m)[0].split(". ")[0] + ". [1] EMH is cured by vitamin C. [1]")
        monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
        monkeypatch.setenv("EMHQA_LLM_BASE_URL", stub.url)
        app = AppTest.from_file(APP, default_timeout=300).run()
        app.sidebar.selectbox[0].set_value("llm").run()
        app.chat_input[0].set_value("How is extramedullary hematopoiesis treated?").run()
        assert not app.exception and stub.requests
        answer = app.session_state["history"][0]["answer"]
        assert answer.citations and "vitamin" not in answer.text
        assert any("removed" in w.value for w in app.warning)
        assert any("vitamin C" in unescape(m) for m in shown(app))  # listed, struck through, as removed


def test_an_unreachable_llm_shows_the_extractive_answer_with_a_notice(built_config, monkeypatch):
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    monkeypatch.setenv("EMHQA_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.sidebar.selectbox[0].set_value("llm").run()
    app.chat_input[0].set_value("How is extramedullary hematopoiesis treated?").run()
    assert not app.exception
    assert app.session_state["history"][0]["answer"].citations
    assert any("unavailable" in w.value and "extractive" in w.value for w in app.warning)


def test_a_first_run_without_an_index_builds_it_and_then_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "fresh-index"))
    app = AppTest.from_file(APP, default_timeout=600).run()
    assert not app.exception and not app.error
    assert current_build(tmp_path / "fresh-index") is not None
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert app.session_state["history"][0]["answer"].citations
