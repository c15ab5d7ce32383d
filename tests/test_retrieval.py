import copy
import dataclasses

import pytest

from emhqa.types import Passage

ARTICLE, FAQ, CASE_B = "000_78d6eeaffc1a6cb0.txt", "001_717d4dda9e782864.txt", "004_4a7d70616bb311fd.txt"


def top(qa, question, k=5, mode="hybrid"):
    return [(p.chunk.source, p.chunk.section) for p in qa.retriever.with_mode(mode).retrieve(question, k)]


def test_faq_questions_as_written_come_first(qa):
    assert top(qa, "How is extramedullary hematopoiesis treated?")[0] == (FAQ, "How is extramedullary hematopoiesis treated?")


@pytest.mark.parametrize("question, expected", [
    ("masses caudal to T6", (CASE_B, "Discussion")),
    ("When is FNAC a better option?", (ARTICLE, "Radiological features")),
])
def test_terms_and_codes_match_lexically(qa, question, expected):
    assert expected in top(qa, question, 3, mode="lexical")
    assert expected in top(qa, question, 3)


def test_paraphrases_match_densely(qa):
    assert (FAQ, "Is extramedullary hematopoiesis cancerous?") in top(qa, "Can blood production outside the marrow be a cancer?", 5, mode="dense")


def test_a_mode_copy_is_checked_and_leaves_the_retriever_as_it_was(qa):
    with pytest.raises(ValueError, match="unknown retrieval mode"):
        qa.retriever.with_mode("semantic")
    assert qa.retriever.with_mode("dense").mode == "dense" and qa.retriever.mode == "hybrid"


def test_abbreviations_defined_in_the_corpus_are_expanded(qa):
    assert qa.analyzer.abbreviations["emh"].lower() == "extramedullary hematopoiesis"
    assert qa.analyzer.analyze("Define EMH.").searches[0].lower() == "define emh. (extramedullary hematopoiesis)"


def test_excluded_sections_are_never_returned(qa):
    hidden = (FAQ, "How is extramedullary hematopoiesis treated?")
    passages = qa.retriever.retrieve("How is extramedullary hematopoiesis treated?", 10,
                                     exclude=lambda c: (c.source, c.section) == hidden)
    assert len(passages) == 10 and hidden not in [(p.chunk.source, p.chunk.section) for p in passages]


def test_passages_are_ranked_with_their_signals(qa):
    passages = qa.retriever.retrieve("posterior mediastinal mass", 5)
    assert all(isinstance(p, Passage) for p in passages)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert -1.0 <= passages[0].dense_score <= 1.0


def test_related_words_of_the_focus_vote_in_retrieval(qa):
    # "mechanism" is not in the FAQ's heading, "pathophysiology" is (synonyms.py): a lexical search for the
    # focus's related words votes at Config.related_vote (EVALUATION.md, session 17)
    question = "Explain the mechanism of EMH"
    without = copy.copy(qa.retriever)
    without.config = dataclasses.replace(qa.retriever.config, related_vote=0.0)
    wanted = (FAQ, "What is the pathophysiology of extramedullary hematopoiesis?")
    assert wanted not in [(p.chunk.source, p.chunk.section) for p in without.retrieve(question, 5)]
    assert wanted in top(qa, question)
