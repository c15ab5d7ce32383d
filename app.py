"""emhqa chat UI: `streamlit run app.py`. Only calls the library; corpus and answer text is always escaped.

Questions go into a queue in the session (from the chat input's callback, before the page runs) and
are answered in order by a worker thread while the page keeps taking input, so a question typed while
another is being answered waits in the queue, shown as queued. Before each question, and again before
an answer is shown, the corpus and index are checked for changes (``emhqa.freshness.fingerprint``); a
change loads them again, so no answer quotes a file as it was before."""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import emhqa
from emhqa import feedback
from emhqa.citations import location, marker
from emhqa.conversation import to_markdown
from emhqa.corpus import KINDS, MAX_FILE_BYTES, add_upload, is_read_only, listed_documents, remove_document
from emhqa.errors import EmhqaError, QuestionError
from emhqa.freshness import fingerprint, open_with_fingerprint
from emhqa.index import Index
from emhqa.pipeline import QA
from emhqa.render import escape_markdown, highlighted, section_context
from emhqa.text import validate_question

EXAMPLES = ("How is extramedullary hematopoiesis treated?", "Do EMH masses calcify?",
            "What is the differential diagnosis of a paraspinal mass?")
UPLOAD_TYPES = ("txt", "md", "pdf", "html", "htm")
POLL_SECONDS = 0.02  # how often waiting for an answer lets Streamlit take a newly typed question
log = logging.getLogger("emhqa.app")

st.set_page_config(page_title="emhqa: extramedullary hematopoiesis Q&A")


@dataclass
class Job:
    """The question at the head of the queue, being answered by a worker thread."""

    question: str
    loaded: tuple[str, str]  # the configuration and corpus fingerprint of the pipeline answering it
    future: Future  # a history entry
    tokens: list[str]  # an LLM's draft as it streams


@st.cache_resource(show_spinner=False, max_entries=4)
def pipeline(key: str, _config: emhqa.Config, _index: Index | None = None) -> QA:
    """One loaded pipeline per server, configuration and corpus state (``key``), shared by every
    session, on ``_index`` when it was just opened (else the index is opened here). It writes nothing
    to the page: Streamlit would replay such output on every later call."""
    return emhqa.load(_config, index=_index)


@st.cache_resource(show_spinner=False)
def workers() -> ThreadPoolExecutor:
    """The threads that answer questions, shared by every session."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="emhqa-answer")


def load(config: emhqa.Config, rebuild: bool = False) -> QA:
    """The cached pipeline for the corpus and index as they are now. A first run (or a rebuild) shows
    its progress; a corpus or index changed since this session loaded it is loaded again, and said so."""
    loaded = st.session_state.get("loaded")
    if rebuild:
        pipeline.clear()
    elif loaded == (repr(config), fingerprint(config)):
        return pipeline("".join(loaded), config)
    changed = not rebuild and loaded is not None and loaded[0] == repr(config)
    label = st.session_state.pop("indexing", None) or (
        "The corpus or the index changed; loading it again..." if changed
        else "Loading the model and the index (a first run builds the index)...")
    with st.status(label, expanded=True) as status:
        try:
            index, stamp = open_with_fingerprint(config, rebuild=rebuild, progress=status.write)
            loaded = (repr(config), stamp)
            qa = pipeline("".join(loaded), config, index)
        except EmhqaError:
            status.update(label="The index could not be loaded", state="error")
            raise
        status.update(label="Ready", state="complete", expanded=False)
    if changed:
        st.toast("The corpus or the index changed, so it was loaded again: answers quote the files as they are.")
    st.session_state["loaded"] = loaded
    return qa


def submit(question: str | None = None) -> None:
    """Queue the question typed (or the example clicked). A callback runs before the page, so a run
    that the next question interrupts has queued this one already."""
    question = st.session_state["typed"] if question is None else question
    try:
        st.session_state["queue"].append(validate_question(question))
    except QuestionError as error:
        st.session_state["notice"] = str(error)


def answer_entry(qa: QA, question: str, k: int, generator: str, tokens: list[str], history: list) -> dict:
    """A history entry: the answer (a follow-up answered from ``history``, the earlier answers) with each
    citation's source title and section text (a worker's job)."""
    result = qa.ask(question, k=k, generator=generator, on_token=tokens.append, history=history)
    titles = qa.index.titles
    sources = [{"title": titles.get(c.source, c.source), "context": section_context(c, qa.index.chunks, qa.texts)}
               for c in result.citations]
    return {"question": question, "answer": result, "sources": sources}


def failure(question: str, error: BaseException) -> dict:
    """A history entry for a question that got a message instead of an answer."""
    if isinstance(error, QuestionError):
        problem = ("warning", str(error))
    elif isinstance(error, EmhqaError):
        problem = ("error", str(error))
    else:  # keep the page alive; the log has the traceback
        log.error("answering failed", exc_info=error)
        problem = ("error", f"Answering failed ({type(error).__name__}). The chat still works; try again.")
    return {"question": question, "answer": None, "problem": problem}


def show_answer(entry: dict, show_passages: bool) -> None:
    """One history entry's answer with its sources, or its message."""
    if entry["answer"] is None:
        level, message = entry["problem"]
        getattr(st, level)(message)
        return
    answer = entry["answer"]
    if answer.abstained:
        st.info("The sources do not cover this question, so there is no answer and no source.")
    else:
        if answer.read_as:
            st.caption("Answered as: " + escape_markdown(answer.read_as))
        st.markdown(escape_markdown(answer.text))
        for citation, source in zip(answer.citations, entry["sources"]):
            st.markdown(f"**{escape_markdown(marker(citation.marker))}** {escape_markdown(source['title'])} — "
                        f"*{escape_markdown(citation.section)}* ({location(citation, '–')})")
            if not answer.shows_quote(citation):  # an extractive answer is its quotes: shown once
                st.markdown("> " + escape_markdown(" ".join(citation.quote.split())))
            with st.expander(f"Full section, quote highlighted {marker(citation.marker)}"):
                st.markdown(highlighted(*source["context"]))
    for warning in answer.details.warnings:
        st.warning(escape_markdown(warning))
    if answer.details.unsupported:
        with st.expander("Removed: sentences of the model's reply that its sources do not support"):
            for sentence in answer.details.unsupported:
                st.markdown("- ~~" + escape_markdown(sentence) + "~~")
    if show_passages and answer.passages:
        with st.expander(f"Retrieved passages ({len(answer.passages)})"):
            st.dataframe([{"score": round(p.score, 4), "dense": round(p.dense_score, 4),
                           "bm25": round(p.lexical_score, 4), "source": p.chunk.source,
                           "section": p.chunk.section, "text": p.chunk.text} for p in answer.passages],
                         hide_index=True)
    st.caption(escape_markdown(answer.notice))


def show_queue(queue: list[str]) -> list[DeltaGenerator]:
    """The questions not answered yet, in order, each with the place where its answer will go."""
    places = []
    for position, question in enumerate(queue):
        with st.chat_message("user"):
            st.markdown(escape_markdown(question))
        with st.chat_message("assistant"):
            places.append(st.empty())
            places[-1].caption("Queued: answered after the questions above it." if position else "Answering...")
    return places


def draft(job: Job) -> str:
    """What the answer's place shows while the worker answers."""
    tokens = "".join(job.tokens)
    return "Draft, being checked against the sources: " + escape_markdown(tokens) if tokens else "Answering..."


def start_job(qa: QA, k: int, generator: str) -> Job:
    """The job answering the first queued question: the one already running (a rerun resumes it) unless
    it answers another question or uses a pipeline that was loaded again since."""
    question, loaded = st.session_state["queue"][0], st.session_state["loaded"]
    job = st.session_state.get("job")
    if job is None or (job.question, job.loaded) != (question, loaded):
        tokens: list[str] = []
        future = workers().submit(answer_entry, qa, question, k, generator, tokens, answered()[-1:])
        job = st.session_state["job"] = Job(question, loaded, future, tokens)
    return job


def wait_for(job: Job, place: DeltaGenerator) -> None:
    """Wait for the job, showing its draft. Every pass reads the session state, which is where Streamlit
    takes a newly typed question (its callback queues it; the job carries on and the rerun waits again)."""
    shown = None
    while not job.future.done():
        if draft(job) != shown:
            shown = draft(job)
            place.caption(shown)
        wait([job.future], timeout=POLL_SECONDS)
        st.session_state.get("job")


def answer_queue(qa: QA, config: emhqa.Config, k: int, generator: str, places: list[DeltaGenerator],
                 show_passages: bool) -> None:
    """Answer the queued questions in order, each on a worker thread, and show each answer in its place.
    An answer from a corpus or index that changed meanwhile is dropped: the rerun loads them again and
    asks the question again."""
    queue = st.session_state["queue"]
    while queue:
        job = start_job(qa, k, generator)
        wait_for(job, places[0])
        del st.session_state["job"]
        if job.loaded != (repr(config), fingerprint(config)):
            st.rerun()
        error = job.future.exception()
        entry = failure(job.question, error) if error else job.future.result()
        st.session_state["history"].append(entry)
        queue.pop(0)
        with places.pop(0).container():
            show_answer(entry, show_passages)


def answered() -> list:
    """This session's answers so far, oldest first (the conversation a follow-up builds on)."""
    return [entry["answer"] for entry in st.session_state["history"] if entry.get("answer") is not None]


def record_feedback(config: emhqa.Config, entry: dict, key: str) -> None:
    """Append the thumbs up/down just given on ``entry``'s answer to the local feedback file."""
    verdict = st.session_state.get(key)
    if verdict is not None and config.feedback_file is not None:
        feedback.record(config.feedback_file, entry["answer"], feedback.VERDICTS[1 - verdict])


def add_uploaded(config: emhqa.Config, key: str) -> None:
    """Add the uploaded file with the title, kind and publisher typed (``emhqa add``'s checks); the page
    run that follows indexes it, showing its progress, and answers from it."""
    upload = st.session_state.get(key)
    if upload is None:
        st.session_state["corpus_notice"] = ("error", "Choose a file to add first.")
        return
    try:
        name = add_upload(config.corpus_dir, upload.name, upload.getvalue(), st.session_state["add-title"],
                          st.session_state["add-kind"], st.session_state["add-publisher"])
    except EmhqaError as error:
        st.session_state["corpus_notice"] = ("error", " ".join(str(error).split()))
        return
    st.session_state["uploads"] = st.session_state.get("uploads", 0) + 1  # a fresh, empty uploader
    st.session_state["add-title"] = st.session_state["add-publisher"] = ""
    st.session_state["indexing"] = f"Indexing {name}..."
    st.session_state["corpus_notice"] = ("success", f"Added {name}: ask about it now (cite it as {name}).")


def remove_chosen(config: emhqa.Config) -> None:
    """Remove the document chosen, once its removal was confirmed (``emhqa remove``)."""
    name = st.session_state.get("remove-name")
    st.session_state["remove-confirm"] = False
    if name is None:
        return
    try:
        remove_document(config.corpus_dir, name)
    except EmhqaError as error:
        st.session_state["corpus_notice"] = ("error", " ".join(str(error).split()))
        return
    st.session_state["indexing"] = f"Removing {name} from the index..."
    st.session_state["corpus_notice"] = ("success", f"Removed {name} and its passages.")


def corpus_sidebar(config: emhqa.Config) -> None:
    """Add a document (upload, title, kind, publisher) and remove one behind a confirmation; for the
    read-only bundled corpus, how to use a corpus of one's own instead."""
    st.sidebar.subheader("Add a document")
    if is_read_only(config.corpus_dir):
        st.sidebar.info("This is the read-only corpus bundled with the package. To add documents, copy it to "
                        "a folder of your own and set EMHQA_CORPUS to it, then restart the app: "
                        f"`cp -r '{config.corpus_dir}' ~/emhqa-corpus && export EMHQA_CORPUS=~/emhqa-corpus`")
        return
    key = f"upload-{st.session_state.get('uploads', 0)}"
    st.sidebar.file_uploader("Text, Markdown, PDF or HTML file", type=list(UPLOAD_TYPES), key=key,
                             max_upload_size=MAX_FILE_BYTES // 1_000_000)
    st.sidebar.text_input("Title", key="add-title", help="shown with every citation of this document")
    st.sidebar.selectbox("Kind", KINDS, index=KINDS.index("case"), key="add-kind")
    st.sidebar.text_input("Publisher (optional)", key="add-publisher")
    st.sidebar.button("Add and index", on_click=add_uploaded, args=(config, key))
    if "corpus_notice" in st.session_state:
        level, message = st.session_state.pop("corpus_notice")
        getattr(st.sidebar, level)(escape_markdown(message))
    try:
        documents = listed_documents(config.corpus_dir)
    except EmhqaError:
        return
    with st.sidebar.expander("Remove a document"):
        st.selectbox("Document", list(documents), key="remove-name",
                     format_func=lambda name: f"{documents.get(name, name)} ({name})")
        confirmed = st.checkbox("Yes, remove it and its passages", key="remove-confirm")
        st.button("Remove", disabled=not confirmed, on_click=remove_chosen, args=(config,))


def clear() -> None:
    """Forget this session's answers and queued questions."""
    for name in ("history", "queue"):
        st.session_state[name].clear()
    st.session_state.pop("job", None)


config = emhqa.Config()
history = st.session_state.setdefault("history", [])
queue = st.session_state.setdefault("queue", [])
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
st.sidebar.button("Clear chat", disabled=not (history or queue), on_click=clear)
manifest = qa.index.manifest  # typed (IndexManifest): shown as it is, no display dict in between
with st.sidebar.expander("Index build"):
    st.markdown("\n".join(f"- {escape_markdown(document.title)}" for document in manifest.documents))
    st.caption(escape_markdown(f"{manifest.chunk_count} chunks · model {manifest.model_id} · "
                               f"built {manifest.built_at}"))
    for name, reason in manifest.skipped.items():
        st.caption(escape_markdown(f"skipped {name}: {reason}"))
corpus_sidebar(config)

for number, entry in enumerate(history):
    with st.chat_message("user"):
        st.markdown(escape_markdown(entry["question"]))
    with st.chat_message("assistant"):
        show_answer(entry, show_passages)
        if entry["answer"] is not None and config.feedback_file is not None:
            key = f"feedback-{id(entry)}"
            st.feedback("thumbs", key=key, on_change=record_feedback, args=(config, entry, key))
if answered():
    st.sidebar.download_button("Download the conversation (Markdown)", to_markdown(answered(), qa.index.titles),
                               file_name="emhqa-conversation.md", mime="text/markdown")
places = show_queue(queue)

st.chat_input("Ask about extramedullary hematopoiesis", key="typed", on_submit=submit)
if "notice" in st.session_state:
    st.warning(st.session_state.pop("notice"))
if not (history or queue):
    st.caption("Try one of these:")
    for number, example in enumerate(EXAMPLES):
        st.button(example, key=f"example-{number}", on_click=submit, args=(example,))
answer_queue(qa, config, k, generator, places, show_passages)
