"""The Streamlit page, driven by streamlit's AppTest on the real corpus and model."""
from __future__ import annotations

import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from emhqa.config import REPO_ROOT
from emhqa.generation import REGISTRY, Generator
from emhqa.index import current_build
from emhqa.render import WORD_JOINER
from hostile import LINKS, QUESTION, TITLE, add_link_document

APP = str(REPO_ROOT / "app.py")
# GitHub-flavoured Markdown's literal autolinks, as Streamlit's renderer finds them in text once the
# escapes are resolved (its bundle's regular expressions, in Python's syntax).
AUTOLINK = re.compile(r"(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+", re.IGNORECASE | re.ASCII)


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def shown(app: AppTest) -> list[str]:
    return [unescape(m.value) for m in app.markdown]


def answered(app: AppTest) -> list:
    """The answers in the session's history (a question that failed has a message instead)."""
    return [entry["answer"] for entry in app.session_state["history"] if entry["answer"] is not None]


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
    assert len(app.session_state["history"]) == 2 and len(answered(app)) == 1  # the failure keeps its message
    assert any("broken" in e.value for e in app.error)


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


def test_loading_the_page_opens_and_verifies_the_index_once(built_config, tmp_path, monkeypatch):
    from emhqa.index import store

    copied_index(built_config, tmp_path, monkeypatch, built_config.corpus_dir)  # a new index: nothing cached
    loads, load_index = [], store.load_index
    monkeypatch.setattr(store, "load_index", lambda build: loads.append(build) or load_index(build))
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception and len(loads) == 1


def copied_index(built_config, tmp_path, monkeypatch, corpus) -> None:
    """Point the app at ``corpus`` and at a copy of the session's index (a changed corpus updates it)."""
    shutil.copytree(built_config.index_dir, tmp_path / "index")
    monkeypatch.setenv("EMHQA_CORPUS", str(corpus))
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))


def quotes_current_files(answer, corpus_dir) -> bool:
    """Whether every quote of ``answer`` is the text of its file, as the file is now, at its offsets."""
    return all((corpus_dir / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
               for c in answer.citations)


def test_a_cited_file_changed_after_loading_is_reloaded_and_the_next_answer_quotes_it_as_it_is(
        built_config, corpus_copy, tmp_path, monkeypatch):
    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    [first] = answered(app)
    cited, old_quote = corpus_copy / first.citations[0].source, first.citations[0].quote
    cited.write_text(cited.read_text(encoding="utf-8").replace(old_quote, "This sentence was rewritten."),
                     encoding="utf-8")  # as `emhqa add --replace` would, between two questions
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert not app.exception
    second = answered(app)[-1]
    assert old_quote not in second.text and quotes_current_files(second, corpus_copy)
    assert any("changed" in toast.value for toast in app.toast)


class RewritesItsSource(Generator):
    """The extractive answer; the first time, it also rewrites the file it quotes before returning."""

    name = "rewrites"

    def __init__(self, extractive: Generator, corpus_dir, done: list[bool]):
        self.extractive, self.corpus_dir, self.done = extractive, corpus_dir, done

    def generate(self, question, passages):
        draft = self.extractive.generate(question, passages)
        if not self.done:
            claim = draft.claims[0]
            path = self.corpus_dir / passages[claim.passage].chunk.source
            path.write_text(path.read_text(encoding="utf-8").replace(claim.support.text, "Rewritten."),
                            encoding="utf-8")
            self.done.append(True)
        return draft


def test_an_answer_whose_file_changed_while_it_was_written_is_asked_again(
        built_config, corpus_copy, tmp_path, monkeypatch):
    done: list[bool] = []
    monkeypatch.setitem(REGISTRY, "rewrites", lambda **resources: RewritesItsSource(
        REGISTRY["extractive"](**resources), corpus_copy, done))
    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.sidebar.selectbox[0].set_value("rewrites").run()
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert not app.exception and done
    [answer] = answered(app)
    assert answer.citations and quotes_current_files(answer, corpus_copy)


def test_urls_and_e_mail_addresses_in_questions_titles_sections_and_text_are_never_links(
        built_config, corpus_copy, tmp_path, monkeypatch):
    source = add_link_document(corpus_copy)
    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception
    [answer] = answered(app)
    assert [c.source for c in answer.citations] == [source]
    texts = [unescape(element.value) for kind in ("markdown", "caption", "warning", "info")
             for element in app.get(kind)]
    for written in (LINKS, TITLE, QUESTION):  # each reads as it is written (the joiners are invisible)
        assert any(written in text.replace(WORD_JOINER, "") for text in texts)
    assert [link.group() for text in texts for link in AUTOLINK.finditer(text)] == []


def test_queued_questions_are_answered_in_the_order_they_were_asked(app):
    questions = ["Do EMH masses calcify?", "   ", "How is extramedullary hematopoiesis treated?",
                 "What is the capital of Australia?"]
    app.session_state["queue"] = list(questions)
    app.run()
    assert not app.exception and app.session_state["queue"] == []
    history = app.session_state["history"]
    assert [entry["question"] for entry in history] == questions
    assert history[1]["answer"] is None and "empty" in history[1]["problem"][1]
    assert not history[0]["answer"].abstained and history[3]["answer"].abstained


def test_a_follow_up_builds_on_the_conversation_and_can_be_downloaded_and_rated(built_config, monkeypatch, tmp_path):
    import json

    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    monkeypatch.setenv("EMHQA_FEEDBACK", str(tmp_path / "feedback.jsonl"))
    app = AppTest.from_file(APP, default_timeout=300).run()
    app.chat_input[0].set_value("What did the CT show in the thalassemia patient?").run()
    app.chat_input[0].set_value("and the chest x-ray?").run()
    assert not app.exception
    follow_up = answered(app)[-1]
    assert follow_up.details.standalone == "What did the chest x-ray show in the thalassemia patient?"
    assert any(unescape(c.value) == "Answered as: What did the chest x-ray show in the thalassemia patient?"
               for c in app.caption)
    assert "mid-thoracic" in follow_up.text
    app.run()  # answers join the history (with their thumbs) on the next run
    assert app.get("download_button")[0].label == "Download the conversation (Markdown)"
    feedback = app.get("feedback")
    assert len(feedback) == 2
    feedback[1].set_value(0).run()  # thumbs down on the follow-up
    rows = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert [(r["verdict"], r["question"]) for r in rows] == [("wrong", "and the chest x-ray?")]
    assert rows[0]["answered_as"] == follow_up.details.standalone and rows[0]["citations"]


def test_the_sidebar_adds_an_uploaded_case_report_which_is_answered_from_in_the_same_session(
        built_config, corpus_copy, tmp_path, monkeypatch):
    from case_files import FINDINGS_QUESTION, case_report_pdf
    from emhqa.corpus import KINDS, add_upload

    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception
    assert app.get("file_uploader") and app.sidebar.selectbox(key="add-kind").options == list(KINDS)
    add = next(b for b in app.sidebar.button if b.label == "Add and index")
    add.click().run()  # nothing uploaded: one line, nothing added
    assert [unescape(e.value) for e in app.sidebar.error] == ["Choose a file to add first."]
    # AppTest cannot upload a file: the sidebar's button adds the upload with this function (the browser
    # test uploads through the page), and the next page run loads the grown corpus
    assert add_upload(corpus_copy, "report.pdf", case_report_pdf(), " Presacral EMH (PDF) ", "case") == "report.md"
    refused = pytest.raises(Exception, add_upload, corpus_copy, "report.pdf", case_report_pdf(), "Again", "case")
    assert "already in the corpus" in str(refused.value)
    app.chat_input[0].set_value(FINDINGS_QUESTION).run()
    assert not app.exception
    [answer] = answered(app)
    assert answer.citations and {c.source for c in answer.citations} == {"report.md"}
    assert quotes_current_files(answer, corpus_copy)
    assert any("Presacral EMH (PDF)" in t and "page 1, characters" in t for t in shown(app))
    assert "Presacral EMH (PDF) (report.md)" in app.sidebar.selectbox(key="remove-name").options


def test_removing_a_document_in_the_sidebar_needs_a_confirmation(built_config, corpus_copy, tmp_path, monkeypatch):
    import json

    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    app = AppTest.from_file(APP, default_timeout=300).run()
    name = sorted(json.loads((corpus_copy / "manifest.json").read_text()))[-1]  # a seed document
    app.sidebar.selectbox(key="remove-name").set_value(name).run()
    remove = next(b for b in app.sidebar.button if b.label == "Remove")
    assert remove.disabled  # not before it is confirmed
    app.sidebar.checkbox(key="remove-confirm").check().run()
    next(b for b in app.sidebar.button if b.label == "Remove").click().run()
    assert not app.exception
    assert name not in json.loads((corpus_copy / "manifest.json").read_text())
    assert not (corpus_copy / name).exists()
    assert any(name in unescape(s.value) for s in app.sidebar.success)
    assert not any(name in option for option in app.sidebar.selectbox(key="remove-name").options)
    assert app.sidebar.checkbox(key="remove-confirm").value is False
    assert not app.error


def test_with_the_read_only_bundled_corpus_the_sidebar_says_how_to_use_a_corpus_of_ones_own(
        built_config, corpus_copy, tmp_path, monkeypatch):
    import emhqa.corpus

    copied_index(built_config, tmp_path, monkeypatch, corpus_copy)
    monkeypatch.setattr(emhqa.corpus, "BUNDLED_CORPUS", corpus_copy.resolve())
    app = AppTest.from_file(APP, default_timeout=300).run()
    assert not app.exception
    assert not app.get("file_uploader") and not any(b.label == "Remove" for b in app.sidebar.button)
    assert any("EMHQA_CORPUS" in unescape(i.value) for i in app.sidebar.info)
