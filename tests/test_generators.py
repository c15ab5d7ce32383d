"""Generator plug-ins and the support rule that verifies generated sentences."""
from __future__ import annotations

import textwrap

import pytest

from emhqa.errors import GeneratorError
from emhqa.generation import available, make_generator
from emhqa.generation.support import SupportChecker

PLUGIN = textwrap.dedent('''
    from emhqa.generation import Claim, Draft, Generator

    class FirstSentence(Generator):
        def generate(self, question, passages):
            span = passages[0].chunk.sentences[0]
            return Draft((Claim(span.text, 0, span),))

    def make(**resources):
        return FirstSentence()
''')


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "my_generators.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_a_third_party_generator_plugs_in_by_dotted_path(qa, plugin_module):
    answer = qa.ask("How is extramedullary hematopoiesis treated?", generator="my_generators:make")
    assert answer.citations and answer.citations[0].quote == answer.passages[0].chunk.sentences[0].text


def test_a_third_party_generator_plugs_in_by_entry_point(qa, plugin_module):
    dist = plugin_module / "my_generators-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-generators\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[emhqa.generators]\nfirst = my_generators:make\n")
    assert "first" in available()
    assert qa.ask("How is extramedullary hematopoiesis treated?", generator="first").citations


@pytest.mark.parametrize("name", ["nonexistent", "no_such_module:make", "json:dumps"])
def test_an_unknown_or_broken_generator_name_is_a_clear_error(qa, name):
    with pytest.raises(GeneratorError):
        make_generator(name, config=qa.config, evidence=qa.evidence, encoder=qa.encoder)


# Hand-written dev cases (restatements an LLM would write, and claims the corpus does not make).
SUPPORT_CASES = {
    "How is extramedullary hematopoiesis treated?": [
        ("EMH can be managed with transfusions, radiotherapy, surgery or drugs such as hydroxyurea and steroids.", True),
        ("Radiotherapy works well as a primary treatment because hematopoietic tissue is very radiosensitive.", True),
        ("Treatment options include transfusion, radiation, surgery and hydroxyurea.", True),
        ("EMH is best treated with daily high-dose antibiotics.", False),
        ("Surgery is always required within 24 hours of diagnosis.", False),
        ("Most patients are cured by a gluten-free diet.", False),
    ],
    "Do EMH masses calcify?": [
        ("The masses seldom calcify.", True),
        ("EMH masses rarely show calcification and are usually below T6.", True),
        ("EMH masses are typically heavily calcified and painful.", False),
        ("Calcified masses should be biopsied immediately.", False),
    ],
    "What is extramedullary hematopoiesis?": [
        ("It is the formation of blood cells outside the bone marrow.", True),
        ("Extramedullary hematopoiesis means blood cell production outside the marrow, seen in fetal "
         "development and disease.", True),
        ("It is a viral infection of the spleen.", False),
    ],
}


@pytest.mark.parametrize("question, claim, supported",
                         [(q, c, s) for q, cases in SUPPORT_CASES.items() for c, s in cases])
def test_the_support_rule_accepts_restatements_and_rejects_unsupported_claims(qa, question, claim, supported):
    checker = SupportChecker(qa.evidence, qa.encoder)
    passages = qa.retriever.retrieve(question, 5)
    best = checker.best_support(claim, passages, range(len(passages)))
    assert checker.rule.holds(best) is supported
