"""PDF and HTML case reports (issue 16): added through `emhqa add` to a copy of the real corpus, stored
as clean text beside the original, then cited verbatim from their Findings section (a PDF by page)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from emhqa.cli import main
from emhqa.config import Config
from emhqa.corpus import LOCK, MAX_FILE_BYTES

from case_files import (FINDINGS_QUESTION, FOOTER, HEADER, HTML_FOOTER, HTML_PAGE, HTML_QUESTION, NAV, PDF_PAGES,
                         case_report_pdf)
from conftest import CORPUS

ADD = ["--kind", "case"]


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """A copy of the real corpus with report.pdf and page.html added through the CLI (each add indexes)."""
    root = tmp_path_factory.mktemp("documents")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    (root / "report.pdf").write_bytes(case_report_pdf())
    (root / "page.html").write_text(HTML_PAGE, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMHQA_CORPUS", str(corpus))
        patch.setenv("EMHQA_INDEX", str(root / "index"))
        assert main(["add", str(root / "report.pdf"), "--title", "Presacral EMH (PDF)", *ADD]) == 0
        assert main(["add", str(root / "page.html"), "--title", "Hepatic EMH (web page)", *ADD]) == 0
        yield corpus


def ask(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["ask", *args]) == 0
    return capsys.readouterr().out


def test_the_original_is_kept_beside_the_stored_text_and_listed_with_it(added):
    manifest = json.loads((added / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["report.md"]["original"] == "report.pdf" and manifest["page.md"]["original"] == "page.html"
    assert (added / "report.pdf").read_bytes() == case_report_pdf()
    assert (added / "page.html").read_text(encoding="utf-8") == HTML_PAGE
    stored = (added / "report.md").read_text(encoding="utf-8")
    starts = manifest["report.md"]["pages"]
    assert starts[0] == 0 and stored[starts[1]:].startswith(PDF_PAGES[1][0][1].split(",")[0])


def test_pdf_text_has_headings_as_sections_and_no_running_headers_footers_or_page_numbers(added):
    stored = (added / "report.md").read_text(encoding="utf-8")
    assert "\n## History\n" in stored and "\n## Findings\n" in stored and "\n## Discussion\n" in stored
    assert HEADER not in stored and FOOTER not in stored
    assert not any(line.strip().isdigit() for line in stored.splitlines())
    assert "consistent with extramedullary hematopoiesis and did not erode" in stored  # 'extra-' joined
    assert "extra-" not in stored


def test_html_text_is_the_main_content_without_navigation_or_footer(added):
    stored = (added / "page.md").read_text(encoding="utf-8")
    assert "\n## Findings\n" in stored and "trilineage hematopoietic cells" in stored
    assert not any(item in stored for item in [*NAV, HTML_FOOTER, "Related cases", "Share this case", "pageview"])


@pytest.mark.parametrize("question, source", [(FINDINGS_QUESTION, "report.md"), (HTML_QUESTION, "page.md")])
def test_a_findings_question_is_answered_verbatim_from_the_findings_section(added, capsys, question, source):
    answer = json.loads(ask(capsys, "--json", question))
    assert not answer["abstained"]
    citation = answer["citations"][0]
    stored = (added / source).read_text(encoding="utf-8")
    assert citation["source"] == source and citation["section"] == "Findings"
    assert stored[citation["start"]:citation["end"]] == citation["quote"]
    if source == "report.md":  # the page whose lines hold the quote's opening words
        page_text = " ".join(line for _, line in PDF_PAGES[citation["page"] - 1])
        assert " ".join(citation["quote"].split()[:5]) in page_text
    else:
        assert citation["page"] is None


def test_the_cli_source_line_and_langchain_metadata_name_the_pdf_page(added, capsys):
    from emhqa.pipeline import load

    assert "(report.md, page 1, characters " in ask(capsys, FINDINGS_QUESTION)
    qa = load(Config(corpus_dir=added, index_dir=added.parent / "index"))
    from emhqa.langchain_adapter import EmhqaRetriever

    found = EmhqaRetriever(retriever=qa.retriever).invoke(FINDINGS_QUESTION)
    pages = {d.metadata["source"]: d.metadata["page"] for d in found}
    assert pages.get("report.md") in (1, 2) and all(pages[s] is None for s in pages if s != "report.md")


# ---- refusals: one line, the corpus unchanged ---------------------------------------------------------


@pytest.fixture
def small_corpus(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "known.md").write_text("# Known\n\n## Findings\n\nA paraspinal mass.\n", encoding="utf-8")
    (folder / "manifest.json").write_text(json.dumps({"known.md": {"title": "Known", "kind": "case"}}))
    monkeypatch.setenv("EMHQA_CORPUS", str(folder))
    monkeypatch.setenv("EMHQA_INDEX", str(tmp_path / "index"))
    monkeypatch.setattr("emhqa.cli._index", lambda args, complete=True: 0)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.name != LOCK}


@pytest.mark.parametrize("name, content, reason", [
    ("scan.pdf", lambda: case_report_pdf(text_layer=False), "no text layer"),
    ("locked.pdf", lambda: case_report_pdf(password="secret"), "encrypted"),
    ("broken.pdf", lambda: case_report_pdf()[:300], "not a readable PDF"),
    ("empty.html", lambda: b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "no main content"),
    ("huge.pdf", lambda: b"%PDF-1.4\n" + b"0" * MAX_FILE_BYTES, "too large"),
], ids=["scanned", "encrypted", "broken", "html without content", "over the limit"])
def test_unusable_files_are_refused_in_one_line_and_change_nothing(small_corpus, tmp_path, capsys, name, content,
                                                                    reason):
    path = tmp_path / name
    path.write_bytes(content())
    before = snapshot(small_corpus)
    assert main(["add", str(path), "--title", "Bad", *ADD]) == 1
    error = capsys.readouterr().err
    assert error.startswith("emhqa: ") and error.count("\n") == 1 and reason in error, error
    assert snapshot(small_corpus) == before


def test_a_pdf_twice_is_a_duplicate_and_remove_deletes_both_files(small_corpus, tmp_path, capsys):
    path = tmp_path / "report.pdf"
    path.write_bytes(case_report_pdf())
    assert main(["add", str(path), "--title", "Report", *ADD]) == 0
    assert {"report.pdf", "report.md"} <= set(os.listdir(small_corpus))
    assert main(["add", str(path), "--title", "Report", *ADD]) == 1
    assert "already in the corpus; pass --replace" in capsys.readouterr().err
    assert main(["add", str(path), "--title", "Report", "--replace", *ADD]) == 0
    assert main(["remove", "report.pdf"]) == 0
    assert set(os.listdir(small_corpus)) - {LOCK} == {"known.md", "manifest.json"}
