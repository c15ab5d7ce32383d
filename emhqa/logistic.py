"""Logistic regression over named features: the one fitter behind the abstention model and the
sentence model (scikit-learn, L2-regularized, on standardized features, returned on the original scale)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_logistic(rows: Sequence[dict[str, float]], labels: Sequence[int], features: Sequence[str],
                 c: float = 1.0, balanced: bool = False) -> tuple[dict[str, float], float]:
    """Weights per feature and the bias of P(label = 1) = sigmoid(bias + w . x)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[row[name] for name in features] for row in rows], dtype=float)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced" if balanced else None)
    model.fit((x - mean) / std, np.array(labels))
    raw = model.coef_[0] / std
    return {n: float(v) for n, v in zip(features, raw)}, float(model.intercept_[0] - (raw * mean).sum())
