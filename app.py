"""emhqa chat UI: `streamlit run app.py`. Only calls the library; corpus and answer text is always escaped."""
from __future__ import annotations

import logging

import streamlit as st

import emhqa
from emhqa.errors import EmhqaError, QuestionError
from emhqa.pipeline import validate_question
from emhqa.render import escape_markdown, highlighted

EXAMPLES = ("How is extramedullary hematopoiesis treated?", "Do EMH masses calcify?",
            "What is the differential diagnosis of a paraspinal mass?")
log = logging.getLogger("emhqa.app")

st.set_page_config(page_title="emhqa: extramedullary hematopoiesis Q&A")


@st.cache_resource(show_spinner=False)
def pipeline(key: str, _config: emhqa.Config) -> "emhqa.pipeline.QA":
    """One loaded pipeline per server and configuration (``key`` is its repr), shared by every session.
    It writes nothing to the page: Streamlit would replay such output on every later call."""
    return emhqa.load(_config)


def load(config: emhqa.Config, rebuild: bool = False):
    """The cached pipeline; a first run (or a rebuild) shows its progress instead of a blank page."""
    key = repr(config)
    if rebuild:
        pipeline.clear()
    if st.session_state.get("loaded") == key and not rebuild:
        return pipeline(key, config)
    with st.status("Loading the model and the index (a first run builds the index)...", expanded=True) as status:
        try:
            emhqa.prepare_index(config, rebuild=rebuild, progress=status.write)
            qa = pipeline(key, config)
        except EmhqaError:
            status.update(label="The index could not be loaded", state="error")
            raise
        status.update(label="Ready", state="complete", expanded=False)
    st.session_state["loaded"] = key
    return qa


def show_answer(entry: dict, show_passages: bool) -> None:
    answer = entry["answer"]
    if answer.abstained:
        st.info("The sources do not cover this question, so there is no answer and no source.")
    else:
        if answer.read_as:
            st.caption("Read as: " + escape_markdown(answer.read_as))
        st.markdown(escape_markdown(answer.text))
        for citation, source in zip(answer.citations, entry["sources"]):
            st.markdown(f"**\\[{citation.marker}\\]** {escape_markdown(source['title'])} — "
                        f"*{escape_markdown(citation.section)}* (characters {citation.start}–{citation.end})")
            if not answer.shows_quote(citation):  # an extractive answer is its quotes: shown once
                st.markdown("> " + escape_markdown(" ".join(citation.quote.split())))
            with st.expander(f"Full section, quote highlighted [{citation.marker}]"):
                st.markdown(highlighted(*source["context"]))
    for warning in answer.details.get("warnings", ()):
        st.warning(escape_markdown(warning))
    if answer.details.get("unsupported"):
        with st.expander("Removed: sentences of the model's reply that its sources do not support"):
            for sentence in answer.details["unsupported"]:
                st.markdown("- ~~" + escape_markdown(sentence) + "~~")
    if show_passages and answer.passages:
        with st.expander(f"Retrieved passages ({len(answer.passages)})"):
            st.dataframe([{"score": round(p.score, 4), "dense": round(p.dense_score, 4),
                           "bm25": round(p.lexical_score, 4), "source": p.chunk.source,
                           "section": p.chunk.section, "text": p.chunk.text} for p in answer.passages],
                         hide_index=True)
    st.caption(escape_markdown(answer.notice))


def ask(qa, question: str, k: int, generator: str) -> None:
    """Answer (streaming an LLM's draft while it arrives) and append to this session's history;
    errors become messages and the app stays up."""
    try:
        validate_question(question)
    except QuestionError as error:
        st.warning(str(error))
        return
    with st.chat_message("user"):
        st.markdown(escape_markdown(question))
    with st.chat_message("assistant"):
        draft, tokens = st.empty(), []

    def on_token(token: str) -> None:
        tokens.append(token)
        draft.caption("Draft, being checked against the sources: " + escape_markdown("".join(tokens)))

    try:
        answer = qa.ask(question, k=k, generator=generator, on_token=on_token)
    except QuestionError as error:
        st.warning(str(error))
        return
    except EmhqaError as error:
        st.error(str(error))
        return
    except Exception as error:  # keep the page alive; the log has the traceback
        log.exception("answering failed")
        st.error(f"Answering failed ({type(error).__name__}). The chat still works; try again.")
        return
    titles = qa.index.titles
    sources = [{"title": titles.get(c.source, c.source), "context": qa.section_context(c)}
               for c in answer.citations]
    st.session_state["history"].append({"answer": answer, "sources": sources})
    st.rerun()


config = emhqa.Config()
history = st.session_state.setdefault("history", [])
st.title("Extramedullary hematopoiesis Q&A")
st.write("Ask about extramedullary hematopoiesis (EMH). Answers come only from a small curated corpus "
         "(a radiology article, an FAQ, two case reports, a reference outline); each one quotes its "
         "sources word for word, and questions the corpus does not cover are declined.")

rebuild = st.sidebar.button("Rebuild the index", help="Re-read the corpus and rebuild the search index")
try:
    qa = load(config, rebuild=rebuild)
except EmhqaError as error:
    st.error(str(error))
    st.info("Use **Rebuild the index** in the sidebar to rebuild it from the corpus.")
    st.stop()

generator = st.sidebar.selectbox("Answer generator", qa.generators, index=qa.generators.index("extractive"))
k = st.sidebar.slider("Passages to retrieve", 1, 10, 5)
show_passages = st.sidebar.toggle("Show retrieved passages and scores")
if st.sidebar.button("Clear chat", disabled=not history):
    history.clear()
info = qa.build_info()
with st.sidebar.expander("Index build"):
    st.markdown("\n".join(f"- {escape_markdown(title)}" for title in info["documents"]))
    st.caption(escape_markdown(f"{info['chunks']} chunks · model {info['model']} · built {info['built_at']}"))
    for name, reason in info["skipped"].items():
        st.caption(escape_markdown(f"skipped {name}: {reason}"))

for entry in history:
    with st.chat_message("user"):
        st.markdown(escape_markdown(entry["answer"].question))
    with st.chat_message("assistant"):
        show_answer(entry, show_passages)

question = st.chat_input("Ask about extramedullary hematopoiesis")
if not history:
    st.caption("Try one of these:")
    for number, example in enumerate(EXAMPLES):
        if st.button(example, key=f"example-{number}"):
            question = example
if question is not None:
    ask(qa, question, k, generator)
