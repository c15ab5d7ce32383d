"""The running app in a real headless Chromium (Debian's `chromium`, driven by Playwright)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from emhqa.config import REPO_ROOT

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


@pytest.fixture(scope="module")
def server(built_config):
    """`streamlit run app.py` on a free loopback port, serving the test session's index."""
    port = free_port()
    env = {**os.environ, "EMHQA_INDEX": str(built_config.index_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
