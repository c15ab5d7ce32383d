"""Follow-up questions on the real corpus and model: the standalone rewrite, the API, `emhqa chat`."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from emhqa.conversation import Conversation
from emhqa.text import tokens

URMC = "004_4a7d70616bb311fd.txt"
CASE_23 = "002_7118051c0c9ec039.txt"
FIRST = "What did the CT show in the thalassemia patient?"


@pytest.mark.parametrize("question", [
    "How is extramedullary hematopoiesis treated?",
    "What did the MRI show in the young man with severe anemia?",
    "Is EMH common in thalassemia patients?",
    "What is the differential diagnosis of a paravertebral mass?",
])
def test_history_never_changes_what_a_standalone_question_retrieves(qa, question):
    alone = qa.ask(question)
    after = qa.ask(question, history=[qa.ask(FIRST)])
    assert after.details.standalone == question
    assert [p.chunk.id for p in after.passages] == [p.chunk.id for p in alone.passages]
    assert after.text == alone.text


def test_an_elliptical_follow_up_takes_the_place_of_what_was_asked(qa):
    answer = qa.ask("and the chest x-ray?", history=[qa.ask(FIRST)])
    assert answer.details.standalone == "What did the chest x-ray show in the thalassemia patient?"
    assert answer.read_as == answer.details.standalone
    assert not answer.abstained and {c.source for c in answer.citations} == {URMC}
    assert "mid-thoracic" in answer.text


@pytest.mark.parametrize(("previous", "follow_up", "standalone"), [
    ("what did his chest x-ray show?", "and the CT?", "what did the CT show?"),  # the whole noun phrase
    ("in IS case 4 did the masses erode bone?", "what about the 23 year old's ribs?", "in the case did the masses erode the ribs?"),
    ("where in the body does it usually happen?", "and in the chest?", "where in the chest does it usually happen?"),
    (FIRST, "and on MRI?", "What did the MRI show in the thalassemia patient?"),  # not "did the on MRI show"
])
def test_an_elliptical_follow_up_reads_as_a_question(qa, previous, follow_up, standalone):
    assert qa.condenser.standalone(follow_up, previous).endswith(standalone)


def test_what_a_follow_up_asks_is_its_own_words_and_the_earlier_question_its_context(qa):
    standalone = qa.ask("calcified?", history=["Are EMH paravertebral masses usually one-sided?"]).details.standalone
    part, = qa.analyzer.analyze(standalone).parts
    assert standalone.startswith("What about calcified, about: ") and part.focus == frozenset(tokens("calcified"))
    assert "one-sided" in part.asked  # embedded with it, so the sentence is about those masses
    part, = qa.analyzer.analyze(qa.ask("why?", history=[FIRST]).details.standalone).parts
    assert frozenset(tokens("CT")) <= part.focus  # nothing asked of its own: the earlier question is asked


def test_a_pronoun_keeps_the_case_in_focus(qa):
    answer = qa.ask("what were his symptoms?", history=[qa.ask(FIRST)])
    assert answer.details.case == URMC
    assert not answer.abstained and "shortness of breath" in answer.text


def test_the_other_case_switches_the_case(qa):
    first = qa.ask("What did the chest CT show in the 23-year-old with severe anemia?")
    answer = qa.ask("what about the other patient?", history=[first])
    assert answer.details.case == URMC


@pytest.mark.parametrize("follow_up", ["and in the 30-year-old with beta thalassemia?", "what about the URMC patient?",
                                       "was that the case in the 30-year-old thalassemia patient?"])
def test_a_follow_up_that_names_the_other_case_asks_the_same_of_it(qa, follow_up):
    first = qa.ask("What did the chest CT show in the 23-year-old with severe anemia?")
    answer = qa.ask(follow_up, history=[first])
    assert answer.details.case == URMC and "CT" in answer.details.standalone
    assert not answer.abstained and "paravertebral" in answer.text


def test_a_follow_up_refused_as_it_stands_is_asked_about_the_previous_question(qa):
    first = qa.ask("Where does EMH occur?")
    alone = qa.ask("does it happen in the brain?")
    answer = qa.ask("does it happen in the brain?", history=[first])
    assert alone.abstained and alone.details.standalone == "does it happen in the brain?"
    assert answer.details.standalone == "does it happen in the brain, about: Where does EMH occur?"
    assert not answer.abstained and "brain" in answer.citations[0].quote


def test_is_that_usual_asks_for_the_general_pattern_not_the_case_again(qa):
    # "usual" is what "is that the usual level?" asks: answered by a word of frequency (EVALUATION.md, session 17)
    first = qa.ask("At what spinal level were the thalassemia patient's masses?")
    assert "mid-thoracic" in first.text and "caudal to T6" not in first.text
    part, = qa.analyzer.analyze(qa.condenser.standalone("is that the usual level?", first.answered_as)).parts
    assert frozenset(tokens("typical")) <= part.focus
    answer = qa.ask("is that the usual level?", history=[first])
    assert not answer.abstained and "usually are caudal to T6" in answer.text


def test_a_fact_the_case_lacks_is_refused_in_a_conversation(qa):
    conversation = Conversation(qa)
    conversation.ask(FIRST)
    assert conversation.ask("what was his hemoglobin?").abstained


def test_history_given_as_questions_resolves_like_answers(qa):
    history = [FIRST, "and the chest x-ray?"]
    as_text = qa.ask("what were his symptoms?", history=history)
    conversation = Conversation(qa)
    for question in history:
        conversation.ask(question)
    assert conversation.ask("what were his symptoms?").details.standalone == as_text.details.standalone


def test_a_conversation_keeps_its_turns_and_clears(qa):
    conversation = Conversation(qa)
    conversation.ask(FIRST)
    conversation.ask("and the chest x-ray?")
    assert [t.question for t in conversation.turns] == [FIRST, "and the chest x-ray?"]
    assert conversation.turns[1].standalone != conversation.turns[1].question
    conversation.clear()
    assert conversation.ask("and the chest x-ray?").details.standalone == "and the chest x-ray?"


def _chat(built_config, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "EMHQA_CORPUS": str(built_config.corpus_dir), "EMHQA_INDEX": str(built_config.index_dir)}
    return subprocess.run([sys.executable, "-m", "emhqa.cli", "chat"], env=env, capture_output=True, text=True,
                          timeout=300, **kwargs)


def test_chat_reads_piped_questions_one_per_line(built_config):
    done = _chat(built_config, input=f"{FIRST}\nand the chest x-ray?\n/sources\n/clear\nwhat was his hemoglobin?\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("> ") >= 5 and "Answered as: What did the chest x-ray show in the thalassemia patient?" in out
    assert "characters 317-442" in out  # /sources shows the quote with its offsets
    assert "(a new conversation)" in out
    assert out.rstrip().endswith("qualified clinician.") and "do not cover this question" in out


def test_chat_in_a_terminal(built_config):
    env = {**os.environ, "EMHQA_CORPUS": str(built_config.corpus_dir), "EMHQA_INDEX": str(built_config.index_dir)}
    pid, fd = pty.fork()
    if pid == 0:  # the child: emhqa chat on a pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "emhqa.cli", "chat"], env)
    output = _read_until(fd, "you> ")
    assert "Commands: /sources, /clear, /quit" in output
    os.write(fd, f"{FIRST}\n".encode())
    assert "Findings" in _read_until(fd, "you> ")
    os.write(fd, b"and the chest x-ray?\n")
    assert "Answered as: What did the chest x-ray show" in _read_until(fd, "you> ")
    os.write(fd, b"/quit\n")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _read_until(fd: int, marker: str, timeout: float = 240.0) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1.0)[0]:
            seen += os.read(fd, 65536).decode(errors="replace")
    assert marker in seen, seen[-2000:]
    return seen


def test_a_conversation_downloads_as_markdown_with_its_quotes(qa):
    conversation = Conversation(qa)
    conversation.ask(FIRST)
    conversation.ask("and the chest x-ray?")
    text = conversation.to_markdown(qa.index.titles)
    for turn in conversation.turns:
        assert turn.question in text
        for c in turn.answer.citations:
            assert f"characters {c.start}–{c.end}" in text and " ".join(c.quote.split()) in text
    assert "*Answered as:* What did the chest x-ray show" in text and "not medical advice" in text


def test_feedback_is_appended_locally_and_counted_by_eval(qa, tmp_path):
    from emhqa.evaluation import evaluate
    from emhqa.feedback import record, summary

    path = tmp_path / "feedback" / "feedback.jsonl"
    conversation = Conversation(qa)
    record(path, conversation.ask(FIRST), "helpful")
    record(path, conversation.ask("and the chest x-ray?"), "wrong")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["verdict"] for r in rows] == ["helpful", "wrong"]
    assert rows[1]["answered_as"] == "What did the chest x-ray show in the thalassemia patient?"
    assert rows[1]["citations"][0]["quote"] in qa.texts[rows[1]["citations"][0]["source"]]
    assert summary(path) == {"helpful": 1, "wrong": 1}
    with pytest.raises(ValueError):
        record(path, conversation.turns[0].answer, "meh")
    saved, qa.config = qa.config, qa.config.with_(feedback_file=path)
    try:
        report = evaluate(qa, ("off-topic",), modes=("hybrid",))
    finally:
        qa.config = saved
    assert report["feedback"]["wrong"] == 1


def test_feedback_can_be_turned_off(monkeypatch):
    from emhqa.config import Config

    monkeypatch.setenv("EMHQA_FEEDBACK", "off")
    assert Config().feedback_file is None
