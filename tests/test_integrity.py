"""Answer integrity: text that is not verified is never shown, and a tampered index cannot change that."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from emhqa.config import Config
from emhqa.corpus import sha256
from emhqa.errors import IndexDamagedError
from emhqa.generation import Claim, Draft, Generator, register
from emhqa.index import build_index, current_build
from emhqa.pipeline import load
from emhqa.types import NOT_COVERED_ANSWER, Span
from conftest import CORPUS

CORRUPTION_EXAMPLES = 300  # RELIABILITY.md reports this count
QUESTIONS = ("Do EMH masses calcify?", "How is extramedullary hematopoiesis treated?", "What is EMH?",
             "Where does extramedullary hematopoiesis occur?", "What did the chest x-ray show?")


def assert_verbatim(answer, texts: dict[str, str]) -> None:
    """Every citation quotes its file at its offsets, and every sentence of the answer is a piece of
    the quote its marker names (white space folded); an abstention says only that it abstains."""
    for citation in answer.citations:
        assert texts[citation.source][citation.start:citation.end] == citation.quote
    if answer.abstained or not answer.citations:
        assert answer.abstained and answer.text == NOT_COVERED_ANSWER
        return
    markers = "|".join(str(c.marker) for c in answer.citations)
    claims = re.findall(rf"(.+?) \[({markers})\](?: |$)", answer.text)
    assert " ".join(f"{text} [{marker}]" for text, marker in claims) == answer.text  # nothing uncited
    quotes = {c.marker: " ".join(c.quote.split()) for c in answer.citations}
    assert all(text in quotes[int(marker)] for text, marker in claims)


# ---- claims whose support fails verification ----------------------------------------------------

class Forger(Generator):
    """Quotes the first retrieved sentence, then claims an invented sentence with a made-up span."""

    def __init__(self, honest: bool):
        self.honest = honest

    def generate(self, question, passages):
        real = passages[0].chunk.sentences[0]
        invented = "Extramedullary hematopoiesis is cured by vitamin C."
        fake = Claim(invented, 0, Span(real.start, real.start + len(invented), invented))
        return Draft(((Claim(" ".join(real.text.split()), 0, real),) if self.honest else ()) + (fake,))


@pytest.mark.parametrize("honest", [True, False])
def test_a_claim_whose_quote_is_not_in_the_file_is_never_shown(qa, honest):
    name = f"forger-{honest}"  # QA keeps a generator per name
    register(name, lambda **resources: Forger(honest))
    answer = qa.ask("How is extramedullary hematopoiesis treated?", generator=name)
    assert "vitamin C" not in answer.text
    assert_verbatim(answer, qa.texts)
    assert answer.abstained != honest  # nothing verified left: the not-covered answer
    assert any("left out" in warning for warning in answer.details.warnings)


# ---- an index whose chunks were edited and its hashes made to agree ------------------------------

def rewrite_chunks(build: Path, records: list[dict]) -> None:
    """Write ``chunks.jsonl`` and update its hash in the build manifest, so the hashes agree."""
    (build / "chunks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["files"]["chunks.jsonl"] = sha256((build / "chunks.jsonl").read_bytes())
    (build / "manifest.json").write_text(json.dumps(manifest))


def read_records(build: Path) -> list[dict]:
    return [json.loads(line) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]


@dataclass(frozen=True)
class Tampering:
    """An index built in a temporary folder from a copy of the corpus, and what its edits start from."""

    config: Config
    build: Path
    records: list[dict]
    texts: dict[str, str]
    answering: list[int]  # the chunks that the test questions are answered from: favourite targets


@pytest.fixture(scope="module")
def tampering(tmp_path_factory, embedder) -> Tampering:
    folder = tmp_path_factory.mktemp("tamper")
    shutil.copytree(CORPUS, folder / "corpus")
    config = Config(corpus_dir=folder / "corpus", index_dir=folder / "index")
    build_index(config, embedder)
    build = current_build(config.index_dir)
    qa = load(config)
    answers = [qa.ask(question) for question in QUESTIONS]
    answering = sorted({p.chunk.id for a in answers for p in a.passages for c in a.citations
                        if (c.source, c.start) == (p.chunk.source, max(c.start, p.chunk.start))
                        and c.end <= p.chunk.end})
    return Tampering(config, build, read_records(build), qa.texts, answering)


@pytest.fixture
def pristine(tampering):
    """The tampered build is restored after the test."""
    saved = {name: (tampering.build / name).read_bytes() for name in ("chunks.jsonl", "manifest.json")}
    yield tampering
    for name, data in saved.items():
        (tampering.build / name).write_bytes(data)


EDITS = {
    "negative offsets": lambda r: r.update(start=-len(r["text"]), end=0),
    "offsets past the end of the file": lambda r: r.update(start=10**7, end=10**7 + len(r["text"])),
    "invented text": lambda r: r.update(text=forged(r["text"], 0)),
    "fake section label": lambda r: r.update(section="WHO treatment guidelines"),
    "another file's name": lambda r: r.update(source="../outside.txt"),
    "sentence outside the chunk": lambda r: r.update(sentences=[[r["end"], r["end"] + 5]] + r["sentences"][1:]),
    "renumbered": lambda r: r.update(id=r["id"] + 1),
    "label as a number": lambda r: r.update(section=7),
}


@pytest.mark.parametrize("edit", EDITS)
def test_chunk_records_that_disagree_with_the_corpus_fail_the_load_naming_the_rebuild(pristine, edit):
    records = [dict(r) for r in pristine.records]
    last = records[-1]["section"]
    EDITS[edit](next(r for r in records if r["section"] == last))  # the first chunk of a section
    rewrite_chunks(pristine.build, records)
    with pytest.raises(IndexDamagedError, match="emhqa index --rebuild"):
        load(pristine.config)


def test_the_intact_index_passes_the_check_with_every_label_kind(tampering):
    labels = {r["section"] for r in tampering.records}
    assert {"Discussion", "History"} <= labels and any(label.endswith("?") for label in labels)
    assert load(tampering.config).index.chunks


INVENTED = "Extramedullary hematopoiesis is cured by vitamin C and rest. "


def forged(text: str, at: int) -> str:
    """``text`` with invented words written over it from ``at``, its length kept."""
    return text[:at] + INVENTED[:len(text) - at] + text[at + len(INVENTED):]


def relocated(record: dict, text: str, start: int) -> dict:
    """The record moved to ``start`` of its file, text and sentences with it: consistent but wrong."""
    shift = start - record["start"]
    end = min(len(text), record["end"] + shift)
    return {**record, "start": start, "end": end, "text": text[start:end],
            "sentences": [[min(s + shift, end - 1), min(e + shift, end)] for s, e in record["sentences"]]}


def hostile(field: str, record: dict, tampering: Tampering) -> st.SearchStrategy:
    """Plausible and hostile values for one field of a chunk record."""
    if field in ("start", "end"):
        return st.one_of(st.integers(-10**6, 10**6), st.integers(-40, 40).map(lambda d: record[field] + d))
    text = record["text"]
    return {
        "id": st.integers(-2, len(tampering.records) + 2),
        "source": st.sampled_from([*tampering.texts, "../outside.txt", "manifest.json", ""]),
        "section": st.one_of(st.sampled_from(sorted({r["section"] for r in tampering.records})),
                             st.text(max_size=30)),
        "text": st.one_of(st.integers(0, len(text)).map(lambda at: forged(text, at)), st.text(max_size=60),
                          st.just(text + " Vitamin C cures EMH.")),
        "sentences": st.integers(-30, 30).map(lambda d: [[s + d, e + d] for s, e in record["sentences"]]),
    }[field]


@st.composite
def corruptions(draw, tampering: Tampering) -> list[dict]:
    """1-3 edits of chunk records, mostly of those the answers come from: a field set to a plausible
    or hostile value, or a whole record moved to other text of its file."""
    records = [dict(r) for r in tampering.records]
    for _ in range(draw(st.integers(1, 3))):
        number = draw(st.one_of(st.sampled_from(tampering.answering), st.integers(0, len(records) - 1)))
        field = draw(st.one_of(st.just("move"),  # half the edits keep the record consistent with its file
                               st.sampled_from(["id", "source", "section", "start", "end", "text", "sentences"])))
        if field == "move":
            original = tampering.records[number]
            text = tampering.texts[original["source"]]
            records[number] = relocated(original, text, draw(st.integers(0, len(text) - len(original["text"]))))
        else:
            records[number][field] = draw(hostile(field, records[number], tampering))
    return records


@settings(max_examples=CORRUPTION_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_corruption_with_consistent_hashes_fails_the_load_or_answers_only_with_corpus_text(pristine, data):
    rewrite_chunks(pristine.build, data.draw(corruptions(pristine)))  # edits of the original records
    try:
        qa = load(pristine.config)
    except IndexDamagedError as exc:
        assert str(exc).endswith("Run `emhqa index --rebuild` to rebuild the index.")
        event("load refused")
        return
    event("loaded and answered")
    for question in QUESTIONS:
        assert_verbatim(qa.ask(question), qa.texts)
