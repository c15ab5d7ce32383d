"""Should the bot answer? A small logistic model over retrieval evidence, fitted on dev questions.

The weights live in ``abstention.json`` beside this file; ``emhqa tune`` refits them, in a source
checkout only (never inside an installed package), on the tuning part of ``eval/dev.jsonl`` (never on
the report part or on the FAQ text itself).
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .logistic import fit_logistic

WEIGHTS_FILE = Path(__file__).with_name("abstention.json")
FEATURES = ("best_similarity", "focus_coverage", "passage_coverage", "unseen_focus")
# The features and the fit's regularization were chosen out of fold on the tuning questions (EVALUATION.md,
# sessions 8 and 10); the candidates' best word overlap, once a feature, separated the tuning questions in
# sample only; the listwise sentence model's best probability added nothing; the focus held by the best
# sentences' passages replaced the best dense passage score.
REGULARIZATION = 0.3


@dataclass(frozen=True)
class AbstentionModel:
    """P(answerable) = sigmoid(bias + w . features); abstain below ``threshold``."""

    weights: dict[str, float]
    bias: float
    threshold: float = 0.5

    def probability(self, values: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(name, 0.0) * values[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def abstains(self, probability: float) -> bool:
        """The abstain rule: an answer less likely answerable than ``threshold`` is not given."""
        return probability < self.threshold

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "AbstentionModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["weights"], data["bias"], data.get("threshold", 0.5))

    def save(self, path: Path, provenance: dict) -> None:
        path.write_text(json.dumps({"weights": self.weights, "bias": self.bias, "threshold": self.threshold,
                                    "provenance": provenance}, indent=2) + "\n", encoding="utf-8")


def fit(rows: Sequence[dict[str, float]], labels: Sequence[int], c: float = REGULARIZATION) -> AbstentionModel:
    """The abstention model fitted on ``rows`` of FEATURES (``logistic.fit_logistic``)."""
    weights, bias = fit_logistic(rows, labels, FEATURES, c)
    return AbstentionModel(weights, bias)
