"""Logistic regression over named features: the fitters behind the abstention model and the sentence
model (L2-regularized, on standardized features, returned on the original scale). ``fit_logistic`` rates
each row alone (scikit-learn); ``fit_choice`` learns which row of a group is the one (a conditional
logit: a softmax over each group's rows, fitted with scipy)."""
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


def fit_choice(rows: Sequence[dict[str, float]], labels: Sequence[int], groups: Sequence[int],
               features: Sequence[str], penalty: float) -> dict[str, float]:
    """Weights w that make the positive rows of each group likely under softmax(w . x) over the group
    (groups without a positive row say nothing); ``penalty`` x |w|^2 on standardized features. There is
    no bias: it cancels within a group."""
    from scipy.optimize import minimize

    x = np.array([[row[name] for name in features] for row in rows], dtype=float)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z, y, group_of = (x - mean) / std, np.array(labels) == 1, np.array(groups)
    members = [np.flatnonzero(group_of == g) for g in np.unique(group_of)]
    members = [m for m in members if y[m].any()]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        scores = z @ w
        total, gradient = penalty * w @ w, 2 * penalty * w
        for m in members:
            p = np.exp(scores[m] - scores[m].max())
            p /= p.sum()
            positive = p[y[m]].sum()
            total -= np.log(positive)
            gradient -= z[m].T @ (np.where(y[m], p / positive, 0.0) - p)
        return total, gradient

    w = minimize(loss, np.zeros(len(features)), jac=True, method="L-BFGS-B").x
    return {n: float(v) for n, v in zip(features, w / std)}
