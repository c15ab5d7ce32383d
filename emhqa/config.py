"""One place for every setting, checked when it is made (the LLM settings when the llm generator is
made, the embedding backend when the model is loaded).

Every environment variable emhqa reads is read here, as the default of a setting:
- ``EMHQA_CORPUS``, ``EMHQA_INDEX``: ``Config.corpus_dir``, ``Config.index_dir``
- ``EMHQA_MODEL``, ``EMHQA_EMBEDDING_BACKEND``, ``EMHQA_CACHE``: ``Config.model``,
  ``Config.embedding_backend``, ``Config.cache_dir`` (where the model's ONNX export is kept)
- ``EMHQA_STORE``: ``Config.store`` (``StoreSettings``: the embedded index, or a Milvus server or file)
- ``EMHQA_FEEDBACK``: ``Config.feedback_file``
- ``EMHQA_EMBED_NOW_CHARS``, ``EMHQA_BACKGROUND_INDEX``: ``Config.embed_now_chars``,
  ``Config.background_index`` (large documents indexed keyword-first, their vectors computed later)
- ``EMHQA_LLM_PROVIDER``, ``_MODEL``, ``_BASE_URL``, ``_TEMPERATURE``, ``_TIMEOUT``, ``_MAX_TOKENS``:
  ``Config.llm`` (``LLMSettings``); ``EMHQA_LLM_API_KEY`` or ``OPENAI_API_KEY``: ``LLMSettings.api_key``

Two sets of fitted numbers stay with the code that applies them, since they are refitted or re-set with
it rather than chosen per installation: the abstention model (``abstention.json``, refitted by ``emhqa
tune``) and the LLM support check's rule (``generation.support.SupportRule``, set on hand-written
paraphrases and applied to a scored sentence).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
# A source checkout (an editable install) uses the repository's corpus/ and index/; an installed
# package uses its bundled corpus (read-only package data, built from corpus/) and a per-user index.
CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file()
BUNDLED_CORPUS = PACKAGE_DIR / "bundled_corpus"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_QUESTION_CHARS = 2000
MAX_K = 50  # the most passages one question may retrieve (QA.ask's k, the CLI's -k, the LangChain retriever's k)
MAX_LLM_TIMEOUT = 3600  # seconds
MAX_LLM_TOKENS = 32768
DEFAULT_CHUNK_CHARS = 600
MILVUS_COLLECTION = "emhqa"  # the alias a Milvus store's current build is read through, unless the URI names one


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def _env_folder(name: str, default: Path) -> Path:
    """A folder that must exist when the variable names it."""
    path = _env_path(name, default)
    if os.environ.get(name) and not path.is_dir():
        raise ConfigError(f"{name}={os.environ[name]!r} is not a folder: point it at an existing folder, "
                          "or unset it to use the default")
    return path


def _env_float(name: str, default: float) -> float:
    """The variable as a number; NaN when it is not one, which the setting's check refuses."""
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        return math.nan


def _env_int(name: str, default: int) -> int:
    """The variable as a whole number; 0 when it is not one (NaN, infinite, fractional, not a number),
    which the setting's check refuses."""
    number = _env_float(name, default)
    return int(number) if math.isfinite(number) and number == int(number) else 0


_OFF = ("off", "0", "no", "false", "none")  # values that turn a switch off (EMHQA_BACKGROUND_INDEX, EMHQA_FEEDBACK)


def _env_switch(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in _OFF


def _user_data_dir() -> Path:
    """The per-user data folder (platformdirs): the installed package's index, the chat's feedback."""
    from platformdirs import user_data_path

    return user_data_path("emhqa")


def _default_corpus_dir() -> Path:
    return REPO_ROOT / "corpus" if CHECKOUT else BUNDLED_CORPUS


def _default_index_dir() -> Path:
    return REPO_ROOT / "index" if CHECKOUT else _user_data_dir() / "index"


def _feedback_file() -> Path | None:
    value = os.environ.get("EMHQA_FEEDBACK", "")
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser() if value else _user_data_dir() / "feedback.jsonl"


@dataclass(frozen=True)
class StoreSettings:
    """Where builds are kept and searched: ``embedded`` (the index folder: FAISS + bm25s, the default) or
    ``milvus`` (``uri``: a Milvus server ``http://host:port`` or a Milvus Lite file; ``collection``: the
    alias naming the current build). ``EMHQA_STORE`` sets it: empty or ``embedded``,
    ``milvus://host:port[/collection]``, or a path ending in ``.db`` (Milvus Lite, one process)."""

    kind: str = "embedded"
    uri: str = ""
    collection: str = MILVUS_COLLECTION

    @classmethod
    def parse(cls, value: str) -> "StoreSettings":
        """The settings an ``EMHQA_STORE`` value names; ConfigError naming the accepted forms otherwise."""
        value = value.strip()
        if value in ("", "embedded"):
            return cls()
        if value.endswith(".db") and "://" not in value:
            return cls("milvus", str(Path(value).expanduser().resolve()))
        match = re.fullmatch(r"milvus://([\w.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})(?:/([A-Za-z_]\w{0,63}))?/?", value)
        if not match or not 0 < int(match.group(2)) < 65536:
            raise ConfigError(f"EMHQA_STORE={value!r} is not a store: use milvus://host:port[/collection], a Milvus "
                              "Lite file ending in .db, or unset it for the embedded index")
        return cls("milvus", f"http://{match.group(1)}:{match.group(2)}", match.group(3) or MILVUS_COLLECTION)

    def __str__(self) -> str:
        return "embedded" if self.kind == "embedded" else f"Milvus collection {self.collection!r} at {self.uri}"

    @property
    def variable(self) -> str:
        """The ``EMHQA_STORE`` value that names these settings (``parse`` reads it back)."""
        if self.kind == "embedded":
            return "embedded"
        if not self.uri.startswith("http://"):
            return self.uri  # a Milvus Lite file
        return f"milvus://{self.uri.removeprefix('http://')}/{self.collection}"

    @property
    def shared(self) -> bool:
        """Whether several processes can use this store at once (not a Milvus Lite file)."""
        return self.kind == "embedded" or self.uri.startswith("http://")


@dataclass(frozen=True)
class LLMSettings:
    """How the ``llm`` generator reaches its chat model; ``EMHQA_LLM_*`` variables set the defaults.

    ``provider`` is ``openai`` (any OpenAI-compatible endpoint: vLLM, llama.cpp server, LM Studio,
    Ollama's ``/v1``, OpenAI) or ``ollama`` (Ollama's native API, needs ``langchain-ollama``).
    The API key is read from ``EMHQA_LLM_API_KEY`` or ``OPENAI_API_KEY`` only, never from a flag.
    """

    provider: str = field(default_factory=lambda: os.environ.get("EMHQA_LLM_PROVIDER", "openai"))
    model: str = field(default_factory=lambda: os.environ.get("EMHQA_LLM_MODEL", "gpt-4o-mini"))
    base_url: str | None = field(default_factory=lambda: os.environ.get("EMHQA_LLM_BASE_URL") or None)
    temperature: float = field(default_factory=lambda: _env_float("EMHQA_LLM_TEMPERATURE", 0.0))
    timeout: float = field(default_factory=lambda: _env_float("EMHQA_LLM_TIMEOUT", 30.0))
    max_tokens: int = field(default_factory=lambda: _env_int("EMHQA_LLM_MAX_TOKENS", 512))

    def problems(self) -> list[str]:
        """What is wrong with these settings, each naming its variable and option ([] when usable)."""
        rules = {"provider": (self.provider in ("openai", "ollama"), "must be openai or ollama"),
                 "model": (bool(self.model.strip()), "must not be empty"),
                 "temperature": (0 <= self.temperature <= 2, "must be a number from 0 to 2"),
                 "timeout": (0 < self.timeout <= MAX_LLM_TIMEOUT,
                             f"must be a number of seconds above 0, at most {MAX_LLM_TIMEOUT}"),
                 "max_tokens": (16 <= self.max_tokens <= MAX_LLM_TOKENS,
                                f"must be a whole number from 16 to {MAX_LLM_TOKENS}")}
        return [f"{name} {rule} (EMHQA_LLM_{name.upper()} or --llm-{name.replace('_', '-')})"
                for name, (ok, rule) in rules.items() if not ok]

    def check(self) -> "LLMSettings":
        """These settings, or ConfigError naming every bad one. Only the ``llm`` generator needs them,
        so they are checked where it is made, never where an extractive answer is asked for."""
        problems = self.problems()
        if problems:
            raise ConfigError(f"invalid LLM setting(s): {'; '.join(problems)}")
        return self

    @property
    def api_key(self) -> str:
        # OpenAI-compatible local servers accept any key; the client library insists on one.
        return os.environ.get("EMHQA_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "not-needed"


@dataclass(frozen=True)
class Selection:
    """How answer sentences are chosen (``evidence.Evidence``); set on the tuning half of eval/dev.jsonl
    (EVALUATION.md). ``Config.selection`` holds it, so these weights are settings like the fusion weights."""

    runner_up_margin: float = 0.3  # a runner-up within this probability of the best sentence joins it
    max_sentences: int = 3  # per part, antecedents and parents not counted (an LLM answer's limit too)
    min_words: int = 2  # one-word lines are quoted only when nothing longer was retrieved
    head_weight: float = 2.0  # extra weight of a part's head word ("what *symptoms*")
    related_weight: float = 0.5  # share of a focus word's weight a related word carries (synonyms.py)
    echo_novelty: float = 0.55  # a best sentence with less new word weight than this brings the next one
    short_words: int = 10  # so does a best sentence of fewer words ("The bones may provide a hint ...")


@dataclass(frozen=True)
class Config:
    """Paths, model, retrieval and answer-selection settings; environment variables set the defaults
    of some (see the module's docstring).

    The default corpus and index are the repository's ``corpus/`` and ``index/`` in a source checkout;
    installed, the bundled corpus (read-only) and ``index`` in the per-user data folder."""

    corpus_dir: Path = field(default_factory=lambda: _env_folder("EMHQA_CORPUS", _default_corpus_dir()))
    index_dir: Path = field(default_factory=lambda: _env_path("EMHQA_INDEX", _default_index_dir()))
    model: str = field(default_factory=lambda: os.environ.get("EMHQA_MODEL", DEFAULT_MODEL))
    # onnx or torch (embedding.BACKENDS); checked where the model is loaded, so that commands loading
    # no model (emhqa add's corpus change) are not refused for it.
    embedding_backend: str = field(default_factory=lambda: os.environ.get("EMHQA_EMBEDDING_BACKEND", "onnx"))
    # Where the model's ONNX export is kept.
    cache_dir: Path = field(default_factory=lambda: _env_path("EMHQA_CACHE", Path.home() / ".cache" / "emhqa"))
    max_chunk_chars: int = DEFAULT_CHUNK_CHARS
    # Characters of new text (chunks and sentences) a build embeds at once; documents beyond it (a
    # large upload) are indexed keyword-first and embedded by ``emhqa index``, which ``emhqa add`` and
    # the app start in the background when ``background_index`` is on.
    embed_now_chars: int = field(default_factory=lambda: _env_int("EMHQA_EMBED_NOW_CHARS", 200_000))
    background_index: bool = field(default_factory=lambda: _env_switch("EMHQA_BACKGROUND_INDEX", True))
    # Where builds are kept and searched; a Milvus store still keeps its build lock in index_dir.
    store: StoreSettings = field(default_factory=lambda: StoreSettings.parse(os.environ.get("EMHQA_STORE", "")))
    candidates: int = 30  # how deep each retriever looks before fusion
    # Fusion settings chosen by MRR on the tuning half of eval/dev.jsonl (grid: dense weight
    # 1-3, rrf_k 5/20/60); see EVALUATION.md.
    rrf_k: int = 5
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # A lexical search for the related words (synonyms.py) of the question's focus that it does not use
    # ("below" finds "caudal") votes with this share of the lexical weight (tuning half, EVALUATION.md session 17).
    related_vote: float = 0.5
    selection: Selection = Selection()
    # Thumbs up/down from the chat UI, appended locally and never sent anywhere; EMHQA_FEEDBACK=off (or
    # None) turns it off.
    feedback_file: Path | None = field(default_factory=lambda: _feedback_file())
    llm: LLMSettings = field(default_factory=LLMSettings)

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        checks = {"max_chunk_chars": self.max_chunk_chars >= 100, "embed_now_chars": self.embed_now_chars >= 1,
                  "candidates": self.candidates >= 1,
                  "rrf_k": self.rrf_k >= 1, "selection.max_sentences": self.selection.max_sentences >= 1,
                  "dense_weight": self.dense_weight >= 0, "lexical_weight": self.lexical_weight >= 0,
                  "related_vote": self.related_vote >= 0,
                  "model": bool(self.model.strip())}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid Config setting(s): {', '.join(bad)}")

    def child_environment(self) -> dict[str, str]:
        """This process's environment with the ``EMHQA_*`` variables that give a child process (``emhqa
        index`` in the background) this configuration's corpus, index, model and embedding settings."""
        return {**os.environ, "EMHQA_CORPUS": str(self.corpus_dir), "EMHQA_INDEX": str(self.index_dir),
                "EMHQA_MODEL": self.model, "EMHQA_EMBEDDING_BACKEND": self.embedding_backend,
                "EMHQA_CACHE": str(self.cache_dir), "EMHQA_EMBED_NOW_CHARS": str(self.embed_now_chars),
                "EMHQA_STORE": self.store.variable}

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)
