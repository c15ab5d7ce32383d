from streamlit.testing.v1 import AppTest

from emhqa.config import REPO_ROOT


def test_chat_answers_with_sources_quoted_from_the_corpus(built_config, monkeypatch):
    monkeypatch.setenv("EMHQA_INDEX", str(built_config.index_dir))
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=300).run()
    assert not app.exception
    app.chat_input[0].set_value("Do EMH masses calcify?").run()
    assert not app.exception
    shown = [t.value for t in app.text]
    assert any("calcif" in value for value in shown)
    quotes = shown[2:]  # the question, the answer, then one quote per source
    corpus = "".join(p.read_text(encoding="utf-8") for p in built_config.corpus_dir.glob("*.txt"))
    assert quotes and all(q in corpus for q in quotes)
    assert len(app.session_state["history"]) == 1
