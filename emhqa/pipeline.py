"""The question-answering pipeline: validate, retrieve, decide to answer, generate, verify citations."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from .abstention import AbstentionModel
from .citations import cite
from .config import MAX_K, Config
from .conversation import Condenser
from .corpus import load_corpus
from .embedding import shared_embedder
from .errors import EmhqaError, GeneratorError, QuestionError
from .evidence import Evidence
from .generation import Draft, Generator, available, make_generator
from .index import Index, Progress, check_chunks, open_index
from .query import QueryAnalyzer
from .retrieval import Exclude, HybridRetriever, Mode
from .text import validate_question
from .types import NOT_COVERED_ANSWER, Answer, AnswerDetails, Passage

log = logging.getLogger(__name__)


class QA:
    """A loaded corpus, index and model; ``ask()`` is safe to call from several threads."""

    def __init__(self, config: Config, index: Index, encoder, texts: dict[str, str],
                 generator: str = "extractive", abstention: AbstentionModel | None = None):
        self.config, self.index, self.encoder, self.texts = config, index, encoder, texts
        check_chunks(index.chunks, texts)  # nothing the files do not say can be quoted
        self.analyzer = QueryAnalyzer(index)
        self.condenser = Condenser(self.analyzer, encoder, index.manifest.documents)
        self.retriever = HybridRetriever(index, encoder, config, analyzer=self.analyzer)
        self.evidence = Evidence(index, self.analyzer, encoder, texts, config.selection)
        self.abstention = abstention or AbstentionModel.load()
        self.default_generator = generator
        self._generators: dict[str, Generator] = {}
        self.generator_named(generator)  # fail early on an unknown name

    @property
    def generators(self) -> list[str]:
        return available()

    def generator_named(self, name: str) -> Generator:
        """The generator registered as ``name`` (``generation.make_generator``), made once per QA."""
        if name not in self._generators:
            self._generators[name] = make_generator(name, config=self.config, evidence=self.evidence,
                                                    encoder=self.encoder)
        return self._generators[name]

    def langchain_retriever(self, k: int = 5):
        from .langchain_adapter import EmhqaRetriever

        return EmhqaRetriever(retriever=self.retriever, k=k)

    def as_runnable(self, **options):
        """The cited, abstaining answer as a LangChain Runnable (``langchain_adapter.answer_runnable``)."""
        from .langchain_adapter import answer_runnable

        return answer_runnable(self, **options)

    def as_tool(self, **options):
        """The cited, abstaining answer as a LangChain tool named ``emhqa_answer``."""
        from .langchain_adapter import answer_tool

        return answer_tool(self, **options)

    def ask(self, question: str, k: int = 5, generator: str | None = None,
            exclude: Exclude | None = None, mode: Mode = "hybrid",
            on_token: Callable[[str], None] | None = None, history: Sequence[Answer | str] = ()) -> Answer:
        """Answer from the corpus with verified citations, or abstain; QuestionError on bad input.

        ``history``: the conversation's earlier answers (or questions), oldest first; a follow-up
        ("and the chest x-ray?") is answered as the standalone question it stands for
        (``details.standalone``). ``on_token`` receives the generator's raw text as it streams (an
        LLM's unverified draft: show it as provisional and replace it with the returned answer)."""
        started = time.perf_counter()
        question = validate_question(question)
        if not 1 <= k <= MAX_K:
            raise QuestionError(f"k must be between 1 and {MAX_K}")
        name = generator or self.default_generator
        previous = self._previous(history)
        answer = self._answer(question, self._standalone(question, previous, name), k, name, exclude, mode,
                              on_token, started)
        in_context = self.condenser.in_context(answer.answered_as, previous) if answer.abstained else None
        if in_context:  # refused as it stands: asked once more as a follow-up of the previous question
            again = self._answer(question, in_context, k, name, exclude, mode, on_token, started)
            answer = answer if again.abstained else again
        return answer

    def _answer(self, question: str, standalone: str, k: int, name: str, exclude: Exclude | None, mode: Mode,
                on_token: Callable[[str], None] | None, started: float) -> Answer:
        """``question`` answered as ``standalone``: retrieve, decide to answer, generate, cite."""
        retriever = self.retriever if mode == "hybrid" else self.retriever.with_mode(mode)
        passages = retriever.retrieve(standalone, k, exclude)
        assessment = self.evidence.assess(standalone, tuple(passages))
        probability = self.abstention.probability(assessment.features)
        details = AnswerDetails(standalone=standalone, read_as=assessment.query.text, case=assessment.query.document,
                                generator=name, mode=mode, answerable_probability=round(probability, 4),
                                features=assessment.features,
                                not_covered=tuple(part.text for part in assessment.uncovered))
        if not assessment.answer or self.abstention.abstains(probability):
            return self._abstention(question, passages, details, started)
        draft = self._generate(name, standalone, passages, on_token)
        cited = cite(draft, passages, self.texts, self.index.manifest.pages)
        left_out = cited.warning()
        details = replace(details, unsupported=draft.unsupported, warnings=(
            *(f"Not covered by the sources: {part}" for part in details.not_covered), *draft.warnings,
            *([left_out] if left_out else [])))
        if draft.abstained or not cited.citations:
            return self._abstention(question, passages, details, started)
        return Answer(question, cited.text, False, cited.citations, tuple(passages),
                      details=replace(details, seconds=time.perf_counter() - started))

    def forget_questions(self) -> None:
        """Empty the caches of earlier questions (query vectors, analyses, assessments): the next ask()
        costs what a new question's does in this warm process (how ``emhqa eval`` times every ask)."""
        self.encoder.forget_queries()
        self.analyzer.analyze.cache_clear()
        self.evidence.assess.cache_clear()

    def _standalone(self, question: str, previous: str | None, name: str) -> str:
        """The follow-up as a standalone question: the offline rewrite decides whether it is one, and a
        generator with a chat model may phrase it (falling back to the offline rewrite)."""
        rewritten = self.condenser.standalone(question, previous)
        if rewritten == question or previous is None:
            return question
        condensed = self.generator_named(name).condense(question, previous, rewritten)
        return validate_question(condensed) if condensed else rewritten

    def _previous(self, history: Sequence[Answer | str]) -> str | None:
        """The standalone form of the last turn of ``history``: an Answer records it; questions given
        as strings are resolved in order (the last four turns)."""
        previous = None
        for turn in list(history)[-4:]:
            previous = (turn.answered_as if isinstance(turn, Answer)
                        else self.condenser.standalone(validate_question(turn), previous))
        return previous

    def _generate(self, name: str, question: str, passages: Sequence[Passage],
                  on_token: Callable[[str], None] | None) -> Draft:
        generator = self.generator_named(name)
        try:
            if on_token is None:
                return generator.generate(question, passages)
            return generator.stream(question, passages, on_token)
        except EmhqaError:
            raise
        except Exception as exc:  # a third-party generator's bug must not take the caller down
            log.exception("generator %s failed", name)
            raise GeneratorError(f"the {name!r} generator failed ({type(exc).__name__}: {exc}); "
                                 "try another generator") from exc

    def _abstention(self, question: str, passages: Sequence[Passage], details: AnswerDetails,
                    started: float) -> Answer:
        return Answer(question, NOT_COVERED_ANSWER, True, (), tuple(passages),
                      details=replace(details, seconds=time.perf_counter() - started))


def load(config: Config | None = None, *, index: Index | None = None, rebuild: bool = False,
         progress: Progress | None = None, generator: str = "extractive") -> QA:
    """The default corpus and index, ready to ask. ``index``: one already opened for ``config``
    (``open_index``); otherwise it is opened here (built when missing or stale, or when ``rebuild``)."""
    config = config or Config()
    index = index or open_index(config, rebuild=rebuild, progress=progress)
    return QA(config, index, shared_embedder(config), load_corpus(config.corpus_dir).texts, generator)
