import json
from pathlib import Path

import pytest

from emhqa.corpus import load_corpus
from emhqa.parsers import faq_entries
from tests.conftest import CORPUS, corpus_text

ARTICLE, FAQ, CASE_A, OUTLINE, CASE_B = sorted(json.loads((CORPUS / "manifest.json").read_text()))
SEEDS = CORPUS.parent.parent / "shared" / "seeds"


def sections_of(source):
    return load_corpus(CORPUS).document(source).sections()


def test_corpus_files_are_the_seeds_byte_for_byte():
    seeds = sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else []
    if not seeds:
        pytest.skip("../shared/seeds is not beside this checkout")
    for seed in seeds:
        assert (CORPUS / seed.name).read_bytes() == seed.read_bytes()


def test_manifest_describes_every_corpus_file_with_a_kind():
    corpus = load_corpus(CORPUS)
    assert corpus.skipped == {}
    assert {d.kind for d in corpus.documents} == {"article", "faq", "case", "outline"}


def test_every_sentence_is_a_verbatim_span_of_its_file():
    for doc in load_corpus(CORPUS).documents:
        for section in doc.sections():
            for sentence in section.sentences:
                assert doc.text[sentence.start:sentence.end] == sentence.text
                assert sentence.text == sentence.text.strip() and sentence.text


def test_faq_parser_finds_every_question_answered_or_not():
    entries = faq_entries(corpus_text(FAQ))
    assert len(entries) == 16
    assert [e.question.text for e in entries if e.answer is None] == [
        "What is extramedullary disease in all?",
        "Does extramedullary hematopoiesis cause splenomegaly?",
    ]
    titles = [s.title for s in sections_of(FAQ)]
    assert len(titles) == 14 and "What is extramedullary disease in all?" not in titles
    assert titles[0] == "How is extramedullary hematopoiesis diagnosed?"


def test_faq_answers_are_kept_whole():
    treated = next(s for s in sections_of(FAQ) if s.title == "How is extramedullary hematopoiesis treated?")
    assert treated.sentences[-1].text.endswith("extremely radiosensitive.")
    assert treated.sentences[0].text.startswith("Transfusion therapy")


def test_outline_repeated_block_is_indexed_once_and_paywall_lines_are_gone():
    sections = sections_of(OUTLINE)
    assert [s.title for s in sections] == ["Terminology", "Selected References"]
    lines = [x.text for s in sections for x in s.sentences]
    assert len(lines) == len(set(lines))
    assert "Formation of nonneoplastic blood cell lines outside bone marrow" in lines
    assert len(sections[1].sentences) == 16
    assert not any("subscribe" in line or line == "Loading..." or line.isdigit() for line in lines)


def test_article_keeps_intro_and_whole_bullets_and_drops_trailing_junk():
    sections = sections_of(ARTICLE)
    assert [s.title for s in sections] == ["Introduction", "Radiological features"]
    texts = [x.text for s in sections for x in s.sentences]
    assert "calcification is very atypical" in texts
    assert not any("Siehe auch" in t or "und weiter" in t or "please refer to" in t for t in texts)


def test_case_reports_get_one_section_per_heading_without_contact_blocks_or_navigation():
    titles_a = [s.title for s in sections_of(CASE_A)]
    assert {"Clinical Summary", "Imaging Procedures and Findings", "Final Diagnosis", "References"} <= set(titles_a)
    titles_b = [s.title for s in sections_of(CASE_B)]
    assert titles_b == ["History", "Findings", "Discussion", "References"]
    texts = [x.text for src in (CASE_A, CASE_B) for s in sections_of(src) for x in s.sentences]
    for junk in ("Email", "Affiliation", "Go to top", "end faqaq", "3 images", "Publication Date"):
        assert not any(junk in t for t in texts), junk


def test_sentence_splitter_keeps_figure_references_inside_sentences():
    findings = next(s for s in sections_of(CASE_B) if s.title == "Findings")
    assert findings.sentences[0].text.startswith("Chest x-ray (Fig. 1) reveals")


def test_unreadable_files_are_skipped_with_a_reason(corpus_copy: Path):
    manifest = json.loads((corpus_copy / "manifest.json").read_text())
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (corpus_copy / "stray.txt").write_text("not listed")
    manifest.update({n: {"title": n, "kind": "case"} for n in ("empty.txt", "latin1.txt", "gone.txt")})
    (corpus_copy / "manifest.json").write_text(json.dumps(manifest))
    corpus = load_corpus(corpus_copy)
    assert len(corpus.documents) == 5
    assert corpus.skipped["empty.txt"] == "empty file"
    assert "not UTF-8" in corpus.skipped["latin1.txt"]
    assert "missing" in corpus.skipped["gone.txt"]
    assert "not listed" in corpus.skipped["stray.txt"]
