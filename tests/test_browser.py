"""The running app in a real headless Chromium (Debian's `chromium`, driven by Playwright)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import CORPUS
from emhqa.config import REPO_ROOT
from emhqa.render import WORD_JOINER
from hostile import LINKS, QUESTION, TITLE, add_link_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs it with apt-get", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(**env: str) -> Iterator[str]:
    """`streamlit run app.py` from the repository folder (so `.streamlit/config.toml` applies, as for
    `scripts/start.sh`) on a free loopback port, with ``env`` added to the environment; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("streamlit did not start")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(built_config):
    """The app serving the test session's index."""
    with serve(EMHQA_INDEX=str(built_config.index_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def link_server(built_config, tmp_path_factory):
    """The app serving a copy of the corpus with a document full of URLs and e-mail addresses."""
    folder = tmp_path_factory.mktemp("links")
    shutil.copytree(CORPUS, folder / "corpus")
    add_link_document(folder / "corpus")
    shutil.copytree(built_config.index_dir, folder / "index")  # only the new document is embedded
    with serve(EMHQA_CORPUS=str(folder / "corpus"), EMHQA_INDEX=str(folder / "index")) as url:
        yield url


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_chat(browser, url: str):
    """A new browser session (its own cookies and Streamlit session) with the chat ready."""
    page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
    page.goto(url)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=180_000)
    return page


@pytest.fixture
def page(server, browser):
    return open_chat(browser, server)


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def test_a_question_typed_in_the_browser_gets_an_answer_with_a_source(page, built_config, tmp_path):
    ask(page, "Do EMH masses calcify?")
    # an extractive answer is its quote, shown once, followed by its source line with offsets
    page.get_by_text("characters", exact=False).first.wait_for(timeout=120_000)
    answer = page.locator("[data-testid='stChatMessage'] p", has_text="[1]").first
    quote = answer.inner_text().split("[1]")[0].strip()
    corpus = " ".join(" ".join(p.read_text(encoding="utf-8").split())
                      for p in built_config.corpus_dir.glob("*.txt"))
    assert quote and quote in corpus
    assert page.get_by_text("[1]", exact=False).count() >= 1
    assert page.get_by_text("not medical advice", exact=False).count() >= 1
    page.get_by_text("Full section, quote highlighted", exact=False).first.click()
    section = page.locator("[data-testid='stChatMessage'] [data-testid='stExpanderDetails']").first
    section.wait_for(timeout=30_000)
    assert quote in " ".join(section.inner_text().split()) and ":orange" not in section.inner_text()
    page.wait_for_timeout(800)  # let the expander finish opening before the screenshot
    screenshots = Path(os.environ.get("EMHQA_SCREENSHOTS", tmp_path))
    screenshots.mkdir(parents=True, exist_ok=True)
    shot = screenshots / "chat-answer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_script_tag_in_a_question_is_shown_as_text_and_never_run(page):
    ask(page, "<script>window.pwned = 1</script><img src=x onerror='window.pwned=2'> EMH?")
    page.locator("[data-testid='stChatMessage']").first.wait_for(timeout=120_000)
    page.get_by_text("<script>window.pwned = 1</script>", exact=False).first.wait_for(timeout=60_000)
    assert page.evaluate("window.pwned") is None
    assert page.locator("[data-testid='stChatMessage'] img[src='x']").count() == 0


def test_several_browser_sessions_at_once_keep_their_own_history(server, browser):
    questions = ["Do EMH masses calcify?", "How is extramedullary hematopoiesis treated?",
                 "What is the differential diagnosis of a paraspinal mass?"]
    pages = [open_chat(browser, server) for _ in questions]
    for page, question in zip(pages, questions):  # all three are answered by the server at once
        ask(page, question)
    for page, question in zip(pages, questions):
        page.get_by_text("characters", exact=False).first.wait_for(timeout=120_000)
        user_messages = page.locator("[data-testid='stChatMessage']").all_inner_texts()
        assert any(question in text for text in user_messages)
        assert not any(other in text for other in questions if other != question for text in user_messages)
        assert page.get_by_test_id("stException").count() == 0


def chat_texts(page) -> list[str]:
    return page.locator("[data-testid='stChatMessage']").all_inner_texts()


def test_twenty_questions_typed_50_ms_apart_are_all_answered_in_order(page):
    questions = [f"Question {n}: do EMH masses calcify?" for n in range(1, 21)]
    for question in questions:
        ask(page, question)
        page.wait_for_timeout(50)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until every question has its answer (and nothing is queued)
        texts = chat_texts(page)
        if len(texts) == 2 * len(questions) and all("not medical advice" in t for t in texts[1::2]):
            break
        page.wait_for_timeout(500)
    texts = chat_texts(page)
    assert [text.strip().splitlines()[-1] for text in texts[0::2]] == questions  # after the avatar's name
    assert all("not medical advice" in text for text in texts[1::2])
    assert page.get_by_test_id("stException").count() == 0


def test_urls_and_e_mail_addresses_are_shown_as_text_and_never_as_links(link_server, browser):
    page = open_chat(browser, link_server)
    ask(page, QUESTION)
    page.get_by_text("characters", exact=False).first.wait_for(timeout=120_000)
    page.get_by_text("Full section, quote highlighted", exact=False).first.click()
    page.get_by_text("Index build", exact=False).first.click()
    page.wait_for_timeout(800)
    shown = page.locator("body").inner_text().replace(WORD_JOINER, "")
    for written in (LINKS, TITLE, QUESTION, "Vitamin Q at http://evil.example and www.evil.example"):
        assert written in " ".join(shown.split())
    hrefs = page.locator("a").evaluate_all("links => links.map(link => link.href)")
    assert not [href for href in hrefs if "evil.example" in href or href.startswith("mailto:")]


def test_a_three_turn_conversation_answers_the_follow_ups_from_the_history(page):
    turns = ["What did the CT show in the thalassemia patient?", "and the chest x-ray?", "what were his symptoms?"]
    for number, question in enumerate(turns, 1):
        ask(page, question)
        deadline = time.monotonic() + 120
        while len([t for t in chat_texts(page) if "not medical advice" in t]) < number:
            assert time.monotonic() < deadline, chat_texts(page)
            page.wait_for_timeout(300)
    last = chat_texts(page)[-1]
    assert "Answered as: In the case report “IS Case 4”. what were his symptoms?" in last
    assert "shortness of breath" in last
    assert "IS Case 4: Extramedullary hematopoiesis — History" in last and "characters" in last
    assert "Answered as: What did the chest x-ray show in the thalassemia patient?" in chat_texts(page)[3]
    assert page.get_by_test_id("stException").count() == 0


@pytest.mark.parametrize("name", ["report.pdf", "page.html"])
def test_a_document_uploaded_in_the_sidebar_is_indexed_and_answers_from_its_findings(built_config, browser, tmp_path,
                                                                                    name):
    from case_files import FINDINGS_QUESTION, HTML_PAGE, HTML_QUESTION, HTML_TITLE, case_report_pdf

    pdf = name.endswith(".pdf")
    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(built_config.index_dir, tmp_path / "index")
    (tmp_path / name).write_bytes(case_report_pdf() if pdf else HTML_PAGE.encode("utf-8"))
    stored = name.rsplit(".", 1)[0] + ".md"
    shown_title = "Presacral EMH (PDF)" if pdf else HTML_TITLE
    with serve(EMHQA_CORPUS=str(tmp_path / "corpus"), EMHQA_INDEX=str(tmp_path / "index")) as url:
        page = open_chat(browser, url)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.locator("input[type='file']").set_input_files(str(tmp_path / name))
        sidebar.get_by_text(name).first.wait_for(timeout=30_000)
        title = sidebar.get_by_role("textbox", name="Title", exact=True)
        title.fill(shown_title)
        title.press("Enter")
        page.wait_for_timeout(500)
        sidebar.get_by_role("button", name="Add and index").click()
        sidebar.get_by_text(f"Added {stored}", exact=False).first.wait_for(timeout=180_000)
        ask(page, FINDINGS_QUESTION if pdf else HTML_QUESTION)
        page.get_by_text("page 1, characters" if pdf else "characters", exact=False).first.wait_for(timeout=120_000)
        last = chat_texts(page)[-1]
        assert shown_title in last and "Findings" in last
        assert stored in (tmp_path / "corpus" / "manifest.json").read_text(encoding="utf-8")
        assert page.get_by_test_id("stException").count() == 0
