import json

import pytest

from emhqa.config import REPO_ROOT
from emhqa.errors import QuestionError
from emhqa.types import NOT_MEDICAL_ADVICE

DEV = [json.loads(line) for line in (REPO_ROOT / "eval" / "dev.jsonl").read_text().splitlines()]
QUESTIONS = [row["question"] for row in DEV] + ["How is extramedullary hematopoiesis treated?",
                                                "Do EMH masses calcify?", "What is seen on T1-weighted MRI?"]


def test_every_citation_is_a_verbatim_span_of_a_retrieved_passage(qa):
    cited = 0
    for question in QUESTIONS:
        answer = qa.ask(question)
        retrieved = [p.chunk for p in answer.passages]
        for citation in answer.citations:
            cited += 1
            assert qa.texts[citation.source][citation.start:citation.end] == citation.quote
            assert any(c.source == citation.source and c.start <= citation.start and citation.end <= c.end
                       for c in retrieved)
            assert f"[{citation.marker}]" in answer.text
    assert cited > len(QUESTIONS) // 2


def test_answers_quote_the_best_sentence(qa):
    answer = qa.ask("Do EMH masses calcify?")
    assert not answer.abstained
    assert any("calcif" in c.quote for c in answer.citations)
    assert answer.notice == NOT_MEDICAL_ADVICE and NOT_MEDICAL_ADVICE not in answer.text


@pytest.mark.parametrize("question", ["What is the capital of France?", "How do I bake sourdough bread?",
                                      "Who won the 2018 football world cup?"])
def test_off_topic_questions_are_refused_plainly(qa, question):
    answer = qa.ask(question)
    assert answer.abstained and not answer.citations
    assert "do not cover" in answer.text


def test_answers_are_deterministic(qa):
    first, second = qa.ask("What does the chest x-ray show?"), qa.ask("What does the chest x-ray show?")
    assert first.to_dict() == second.to_dict()


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\x01", "x" * 2001])
def test_bad_questions_raise_a_value_error_subclass(qa, bad):
    with pytest.raises(QuestionError) as error:
        qa.ask(bad)
    assert isinstance(error.value, ValueError)


def test_control_characters_are_stripped(qa):
    answer = qa.ask("Do EMH masses\x00 calcify?\x07")
    assert answer.question == "Do EMH masses calcify?"


@pytest.mark.parametrize("question", ["¿Qué es la hematopoyesis extramedular?", "髓外造血是什么？",
                                      "ما هو تكون الدم خارج النخاع؟", "🩸🦴?"])
def test_questions_in_other_languages_never_crash(qa, question):
    answer = qa.ask(question)
    assert answer.abstained or answer.citations


def test_to_dict_has_the_documented_shape(qa):
    data = qa.ask("Which organs does EMH usually affect?").to_dict()
    assert set(data) == {"schema", "question", "answered_as", "answer", "abstained", "notice",
                         "answerable_probability", "warnings", "not_covered", "citations", "passages"}
    assert data["schema"] == 2 and 0.0 <= data["answerable_probability"] <= 1.0
    assert set(data["citations"][0]) == {"marker", "source", "section", "quote", "start", "end", "page"}
    assert data["citations"][0]["page"] is None  # a text source has no pages (a PDF's citations do)
    assert set(data["passages"][0]) == {"source", "section", "text", "score"}
    json.dumps(data)
