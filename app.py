"""emhqa chat UI: `streamlit run app.py`. Only calls the library; every text is rendered escaped."""
from __future__ import annotations

import streamlit as st

import emhqa
from emhqa.errors import EmhqaError, QuestionError

EXAMPLES = ("How is extramedullary hematopoiesis treated?", "Do EMH masses calcify?",
            "What is the differential diagnosis of a paraspinal mass?")

st.set_page_config(page_title="emhqa: extramedullary hematopoiesis Q&A")


@st.cache_resource(show_spinner="Loading the model and the index (the first run builds it)...")
def pipeline():
    return emhqa.load()


def show(answer: dict, titles: dict[str, str]) -> None:
    if answer["abstained"]:
        st.info(answer["answer"])
    else:
        st.text(answer["answer"])
        for citation in answer["citations"]:
            title = titles.get(citation["source"], citation["source"])
            st.caption(f"[{citation['marker']}] {title} — {citation['section']}")
            st.text(citation["quote"])
    st.caption(answer["notice"])


st.title("Extramedullary hematopoiesis Q&A")
st.write("Answers come only from a small curated corpus, each with a verbatim quote of its source.")
try:
    qa = pipeline()
except EmhqaError as error:
    st.error(str(error))
    st.stop()
titles = qa.index.titles
history = st.session_state.setdefault("history", [])
if st.sidebar.button("Clear chat"):
    history.clear()
k = st.sidebar.slider("Passages to retrieve", 1, 10, 5)

for entry in history:
    with st.chat_message("user"):
        st.text(entry["question"])
    with st.chat_message("assistant"):
        show(entry, titles)

question = st.chat_input("Ask about extramedullary hematopoiesis")
for example in EXAMPLES:
    if not history and st.button(example):
        question = example
if question:
    try:
        answer = qa.ask(question, k=k).to_dict()
    except QuestionError as error:
        st.warning(str(error))
    else:
        history.append(answer)
        st.rerun()
