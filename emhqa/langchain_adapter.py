"""emhqa in LangChain: the retriever as a ``BaseRetriever``, the cited (or abstaining) answer as a
Runnable and as a tool an agent can call."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from .config import MAX_K
from .errors import EmhqaError, QuestionError
from .index import Index, IndexedDocument
from .text import validate_question
from .types import Answer, Passage, page_at

TOOL_NAME = "emhqa_answer"
TOOL_DESCRIPTION = (
    "Answers a question about extramedullary hematopoiesis (EMH) from a fixed corpus of case reports "
    "and FAQs. Returns JSON: 'answer' (sentences with [n] markers), 'abstained' (true when the corpus "
    "does not cover the question: then say so, do not answer from memory), 'citations' (marker, title, "
    "source, section, verbatim quote, start/end offsets in the source file) and 'notice'.")


def document_id(passage: Passage) -> str:
    """A Document id that stays the same across rebuilds of an unchanged file: source and offsets."""
    return f"{passage.chunk.source}:{passage.chunk.start}-{passage.chunk.end}"


def to_document(passage: Passage, documents: dict[str, IndexedDocument]) -> Document:
    """One retrieved passage as a Document; ``documents`` maps a source to its manifest entry."""
    chunk, about = passage.chunk, documents.get(passage.chunk.source)
    return Document(id=document_id(passage), page_content=chunk.text,
                    metadata={"source": chunk.source, "title": about.title if about else None,
                              "kind": about.kind if about else None,
                              "section": chunk.section, "start": chunk.start, "end": chunk.end,
                              "page": page_at(about.pages, chunk.start) if about else None,
                              "score": passage.score, "dense_score": passage.dense_score,
                              "lexical_score": passage.lexical_score})


def checked_k(k: Any) -> int:
    """``k`` when it is a whole number from 1 to MAX_K; QuestionError otherwise (as ``ask`` does)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QuestionError(f"k must be between 1 and {MAX_K}")
    return k


class EmhqaRetriever(BaseRetriever):
    """Wraps an emhqa ``HybridRetriever``; ``invoke(query, k=...)`` overrides ``k`` for one call.

    The query is checked as ``QA.ask`` checks a question (QuestionError when empty, too long or not
    text). Retrieval never abstains: the answer Runnable and tool do."""

    retriever: Any = Field(exclude=True)
    k: int = Field(default=5, ge=1, le=MAX_K)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[Document]:
        question = validate_question(query)
        count = checked_k(self.k if k is None else k)
        documents = {d.source: d for d in self.retriever.index.manifest.documents}
        return [to_document(p, documents) for p in self.retriever.retrieve(question, count)]


def answer_dict(answer: Answer, titles: dict[str, str]) -> dict[str, Any]:
    """The answer as plain data: ``Answer.to_dict()`` without the retrieved passages, each citation
    with its document's title."""
    data = answer.to_dict()
    del data["passages"]
    for citation in data["citations"]:
        citation["title"] = titles.get(citation["source"])
    return data


def parse_request(request: Any) -> tuple[Any, list[Any]]:
    """The question and history of a Runnable input: a question string, or
    ``{"question": ..., "history": [...]}`` whose turns are Answers, question strings or earlier
    outputs of the Runnable."""
    if not isinstance(request, dict):
        return request, []
    if "question" not in request:
        raise QuestionError('the input needs a "question" key')
    history = request.get("history") or []
    if isinstance(history, (str, dict)) or not isinstance(history, Sequence):
        raise QuestionError("history must be a list of earlier answers or questions")
    return request["question"], [turn.get("question") if isinstance(turn, dict) else turn for turn in history]


class Answering(Protocol):
    """What the Runnable and the tool use of a ``pipeline.QA`` (whose ``as_runnable`` and ``as_tool``
    import this module, so it is named by what it does, not imported)."""

    index: Index

    def ask(self, question: str, *, k: int, generator: str | None, history: Sequence[Answer | str]) -> Answer: ...


def answer_runnable(qa: Answering, *, k: int = 5, generator: str | None = None) -> Runnable[Any, dict[str, Any]]:
    """A Runnable from a question (or ``{"question", "history"}``) to the cited answer or the
    abstention as a dict (see ``answer_dict``); QuestionError on bad input."""
    titles = qa.index.titles

    def answer(request: str | dict[str, Any]) -> dict[str, Any]:
        question, history = parse_request(request)
        return answer_dict(qa.ask(question, k=k, generator=generator, history=history), titles)

    return RunnableLambda(answer, name=TOOL_NAME)


class AnswerInput(BaseModel):
    """The tool's arguments."""

    question: str = Field(description="the question, in English")
    history: list[str] = Field(default_factory=list,
                               description="earlier questions of this conversation, oldest first, "
                                           "when the question is a follow-up")


def answer_tool(qa: Answering, *, k: int = 5, generator: str | None = None) -> StructuredTool:
    """The answer Runnable as a LangChain tool named ``emhqa_answer`` returning its dict as JSON; an
    input emhqa refuses comes back as the error message, for the agent to read."""
    runnable = answer_runnable(qa, k=k, generator=generator)

    def run(question: str, history: list[str] | None = None) -> str:
        try:
            return json.dumps(runnable.invoke({"question": question, "history": history or []}), ensure_ascii=False)
        except EmhqaError as exc:
            raise ToolException(str(exc)) from exc

    return StructuredTool.from_function(run, name=TOOL_NAME, description=TOOL_DESCRIPTION,
                                        args_schema=AnswerInput, handle_tool_error=True)
