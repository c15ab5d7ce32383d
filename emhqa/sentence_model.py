"""Which retrieved sentence answers a part of a question: a logistic model over the sentence's
evidence, fitted on the tuning half of the dev questions (``emhqa tune``).

A training example is one part of a tuning question and one sentence of its retrieved passages; it is
positive when the sentence lies in a gold section and contains a key fact of the question. The
weights live in ``sentences.json`` beside this file. ``Evidence`` computes the features
(``FEATURES``, README "How it works") and quotes each part's most probable sentence, with the other
sentences whose probability reaches ``include``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .logistic import fit_choice, fit_logistic

WEIGHTS_FILE = Path(__file__).with_name("sentences.json")
FEATURES = (
    "similarity",  # cosine to the part, the corpus topic direction removed
    "plain_similarity",  # cosine to the part in the model's own space
    "focus",  # share of the part's focus weight in the sentence, its section title and label (head word x3)
    "focus_plain",  # the same without the head word's extra weight
    "focus_own",  # share found in the sentence's own words, related words aside
    "focus_section",  # share found in its section title
    "head",  # share of the head word's weight it contains
    "passage",  # its passage's retrieval score, as a share of the best passage's
    "passage_rank",  # 1 / rank of its passage
    "novelty",  # share of its word weight the question does not use
    "log_words",  # log(1 + its words)
    "dangling",  # opens with a pronoun or connective ("It", "Hence")
    "first",  # the first sentence of its passage
    "short",  # fewer than six words
    "topic_only",  # only the topic's words
    "patient_detail",  # tells of a case's patient, and the question is of EMH in general
    "similarity_gap",  # minus the best similarity among the part's candidates
    "plain_similarity_gap",
    "focus_gap",
    "passage_gap",
)
# Chosen by grouped 5-fold cross-validation on the tuning questions (EVALUATION.md, session 10).
CHOICE_PENALTY = 20.0
SCALE_REGULARIZATION = 1.0
INCLUDE = 0.4


@dataclass(frozen=True)
class SentenceModel:
    """P(the sentence answers the part) = sigmoid(bias + w . features)."""

    weights: dict[str, float]
    bias: float
    include: float = INCLUDE  # a sentence besides the best is quoted from this probability on

    def probabilities(self, rows: Sequence[dict[str, float]]) -> np.ndarray:
        w = np.array([self.weights.get(name, 0.0) for name in FEATURES])
        x = np.array([[row[name] for name in FEATURES] for row in rows], dtype=float).reshape(-1, len(FEATURES))
        return 1.0 / (1.0 + np.exp(-np.clip(self.bias + x @ w, -60.0, 60.0)))

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "SentenceModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["weights"], data["bias"], data.get("include", INCLUDE))

    def save(self, path: Path, provenance: dict) -> None:
        path.write_text(json.dumps({"weights": self.weights, "bias": self.bias, "include": self.include,
                                    "provenance": provenance}, indent=2) + "\n", encoding="utf-8")


def fit(rows: Sequence[dict[str, float]], labels: Sequence[int], groups: Sequence[int]) -> SentenceModel:
    """The sentence model fitted on feature rows, their labels and their question (group): the direction
    of its weights learns which of a question's sentences answers (``logistic.fit_choice``), then one
    logistic fit over that score scales it to a probability (classes weighted to balance: a part has one
    or two answering sentences among dozens)."""
    direction = fit_choice(rows, labels, groups, FEATURES, CHOICE_PENALTY)
    scores = [{"score": sum(w * row[name] for name, w in direction.items())} for row in rows]
    scale, bias = fit_logistic(scores, labels, ("score",), SCALE_REGULARIZATION, balanced=True)
    return SentenceModel({name: scale["score"] * w for name, w in direction.items()}, bias)
