"""Should the bot answer? A small logistic model over retrieval evidence, fitted on dev questions.

The weights live in ``abstention.json`` beside this file; ``emhqa tune`` refits them on the tuning
part of ``eval/dev.jsonl`` (never on the report part or on the FAQ text itself).
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .evidence import Evidence, ScoredSentence
from .types import Passage

WEIGHTS_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("best_similarity", "best_score", "top_dense", "coverage", "unseen_share")


def features(question: str, passages: Sequence[Passage], scored: Sequence[ScoredSentence],
             evidence: Evidence) -> dict[str, float]:
    weights = evidence.weights(question)
    return {
        "best_similarity": max((s.similarity for s in scored), default=0.0),
        "best_score": max((s.score for s in scored), default=0.0),
        "top_dense": max((p.dense_score for p in passages), default=0.0),
        "coverage": max((evidence.overlap(weights, evidence.chunk_terms(p.chunk.id)) for p in passages), default=0.0),
        "unseen_share": evidence.unseen_share(weights),
    }


@dataclass(frozen=True)
class AbstentionModel:
    """P(answerable) = sigmoid(bias + w . features); abstain below ``threshold``."""

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(name, 0.0) * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def abstains(self, values: dict[str, float]) -> bool:
        return self.probability(values) < self.threshold

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "AbstentionModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["weights"], data["bias"], data.get("threshold", 0.5))

    def save(self, path: Path, provenance: dict) -> None:
        path.write_text(json.dumps({"weights": self.weights, "bias": self.bias, "threshold": self.threshold,
                                    "provenance": provenance}, indent=2) + "\n", encoding="utf-8")


def fit(rows: Sequence[dict[str, float]], labels: Sequence[int], l2: float = 0.01,
        steps: int = 5000, rate: float = 0.5) -> AbstentionModel:
    """Plain gradient-descent logistic regression on standardized features (no extra dependency)."""
    import numpy as np

    x = np.array([[row[name] for name in FEATURES] for row in rows], dtype=float)
    y = np.array(labels, dtype=float)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / std
    w, b = np.zeros(len(FEATURES)), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        w -= rate * (z.T @ (p - y) / len(y) + l2 * w)
        b -= rate * float((p - y).mean())
    raw = w / std  # back to the original feature scale
    return AbstentionModel({n: float(v) for n, v in zip(FEATURES, raw)}, float(b - (raw * mean).sum()))
