"""emhqa in LangChain on the real corpus and model: LangChain's standard retriever suite, Document ids
and metadata, input checks, the answer Runnable and the agent tool."""
from __future__ import annotations

import json

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests
from pydantic import ValidationError

from emhqa.errors import QuestionError
from emhqa.langchain_adapter import EmhqaRetriever, answer_runnable, answer_tool

QUESTION = "Do EMH masses calcify?"
OFF_TOPIC = "What is the capital of France?"
FIRST = "What did the CT show in the thalassemia patient?"
BAD = ["", "   \n\t", "\x00\x01", "x" * 2001, None, 42]


class TestEmhqaRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's own retriever suite (langchain-tests), unchanged, against the session's index."""

    @pytest.fixture(autouse=True)
    def _real_retriever(self, qa) -> None:
        self.emhqa_retriever = qa.retriever

    @property
    def retriever_constructor(self) -> type[EmhqaRetriever]:
        return EmhqaRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"retriever": self.emhqa_retriever}

    @property
    def retriever_query_example(self) -> str:
        return "How is extramedullary hematopoiesis treated?"


@pytest.fixture(scope="module")
def retriever(qa) -> EmhqaRetriever:
    return qa.langchain_retriever(k=5)


def test_invoke_k_overrides_the_constructor_k_for_one_call(retriever):
    assert len(retriever.invoke(QUESTION, k=1)) == 1
    assert len(retriever.invoke(QUESTION, k=8)) == 8
    assert len(retriever.invoke(QUESTION)) == 5


def test_documents_carry_a_stable_id_title_kind_offsets_and_scores(qa, retriever):
    documents = retriever.invoke(QUESTION)
    about = {d.source: d for d in qa.index.manifest.documents}
    for document in documents:
        meta = document.metadata
        assert document.id == f"{meta['source']}:{meta['start']}-{meta['end']}"
        assert document.page_content == qa.texts[meta["source"]][meta["start"]:meta["end"]]
        assert (meta["title"], meta["kind"]) == (about[meta["source"]].title, about[meta["source"]].kind)
        assert meta["section"] and meta["score"] > 0
        assert {"dense_score", "lexical_score"} <= set(meta)
    assert len({d.id for d in documents}) == len(documents)
    assert [d.id for d in retriever.invoke(QUESTION)] == [d.id for d in documents]


def test_the_retriever_serializes(retriever):
    assert json.loads(retriever.model_dump_json())["k"] == 5


@pytest.mark.parametrize("bad", BAD)
def test_the_retriever_checks_the_query_as_ask_does(retriever, bad):
    with pytest.raises(QuestionError):
        retriever.invoke(bad)


@pytest.mark.parametrize("k", [0, 51, "3", 2.0, True])
def test_a_bad_k_is_refused(retriever, k):
    with pytest.raises(QuestionError):
        retriever.invoke(QUESTION, k=k)


def test_a_bad_constructor_k_is_refused(qa):
    with pytest.raises(ValidationError):
        EmhqaRetriever(retriever=qa.retriever, k=0)


@pytest.fixture(scope="module")
def runnable(qa):
    return answer_runnable(qa)


def assert_verified(qa, data: dict) -> None:
    """A cited answer whose every quote is verbatim in its corpus file at its offsets."""
    assert data["abstained"] is False and data["citations"] and data["notice"]
    for citation in data["citations"]:
        assert qa.texts[citation["source"]][citation["start"]:citation["end"]] == citation["quote"]
        assert citation["title"] == qa.index.titles[citation["source"]]
        assert f"[{citation['marker']}]" in data["answer"]


def test_the_runnable_returns_the_verified_cited_answer(qa, runnable):
    data = runnable.invoke(QUESTION)
    assert_verified(qa, data)
    assert data == runnable.invoke({"question": QUESTION})
    json.dumps(data)


def test_the_runnable_batches(qa, runnable):
    first, second = runnable.batch([QUESTION, {"question": "Which organs does EMH usually affect?"}])
    assert_verified(qa, first)
    assert_verified(qa, second)
    assert first["question"] == QUESTION


def test_an_off_topic_question_is_an_abstention_without_citations(runnable):
    data = runnable.invoke(OFF_TOPIC)
    assert data["abstained"] is True and data["citations"] == [] and "do not cover" in data["answer"]
    assert data["notice"]


def test_a_follow_up_is_answered_from_its_history(qa, runnable):
    first = runnable.invoke(FIRST)
    for history in ([first], [FIRST], [qa.ask(FIRST)]):
        data = runnable.invoke({"question": "and the chest x-ray?", "history": history})
        assert_verified(qa, data)
        assert "mid-thoracic" in data["answer"]


@pytest.mark.parametrize("bad", [*BAD, {"query": QUESTION}, {"question": QUESTION, "history": FIRST}])
def test_the_runnable_refuses_bad_input(runnable, bad):
    with pytest.raises(QuestionError):
        runnable.invoke(bad)


def test_the_tool_returns_the_runnable_answer_as_json(qa, runnable):
    tool = answer_tool(qa)
    assert tool.name == "emhqa_answer" and set(tool.args) == {"question", "history"}
    data = json.loads(tool.invoke({"question": QUESTION}))
    assert data == runnable.invoke(QUESTION)
    assert_verified(qa, data)
    follow_up = json.loads(tool.invoke({"question": "and the chest x-ray?", "history": [FIRST]}))
    assert "mid-thoracic" in follow_up["answer"]


def test_the_tool_abstains_and_reports_bad_input_as_text(qa):
    tool = answer_tool(qa)
    assert json.loads(tool.invoke({"question": OFF_TOPIC}))["abstained"] is True
    assert "empty" in tool.invoke({"question": "  "})



def test_qa_offers_the_runnable_and_the_tool(qa):
    assert qa.as_runnable().invoke("Do EMH masses calcify?")["citations"]
    assert qa.as_tool().name == "emhqa_answer"
