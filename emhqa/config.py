"""One place for every setting, checked when it is made."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"
MAX_QUESTION_CHARS = 2000


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Config:
    """Paths, model and retrieval settings. ``EMHQA_CORPUS``/``EMHQA_INDEX``/``EMHQA_MODEL`` override."""

    corpus_dir: Path = field(default_factory=lambda: _env_path("EMHQA_CORPUS", REPO_ROOT / "corpus"))
    index_dir: Path = field(default_factory=lambda: _env_path("EMHQA_INDEX", REPO_ROOT / "index"))
    model: str = field(default_factory=lambda: os.environ.get("EMHQA_MODEL", DEFAULT_MODEL))
    max_chunk_chars: int = 600
    candidates: int = 30  # how deep each retriever looks before fusion
    # Fusion settings chosen by MRR on the tuning half of eval/dev.jsonl (grid: dense weight
    # 1-3, rrf_k 5/20/60); see EVALUATION.md.
    rrf_k: int = 5
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    max_answer_sentences: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        object.__setattr__(self, "index_dir", Path(self.index_dir))
        checks = {"max_chunk_chars": self.max_chunk_chars >= 100, "candidates": self.candidates >= 1,
                  "rrf_k": self.rrf_k >= 1, "max_answer_sentences": self.max_answer_sentences >= 1,
                  "dense_weight": self.dense_weight >= 0, "lexical_weight": self.lexical_weight >= 0,
                  "model": bool(self.model.strip())}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid Config setting(s): {', '.join(bad)}")

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)
