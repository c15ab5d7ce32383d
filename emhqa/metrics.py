"""Offline answer and ranking metrics: key-fact recall, SQuAD-style EM/F1, ROUGE-L, hit@k, MRR, nDCG,
bootstrap CIs."""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np
from scipy import stats

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, gold: str) -> float:
    """ROUGE-L F1 over normalized tokens (longest common subsequence)."""
    a, b = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not a or not b:
        return float(a == b)
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def fold(text: str) -> str:
    """Lower case with white space folded to single spaces: how key facts are matched."""
    return " ".join(text.lower().split())


def fact_recall(prediction: str, groups: Sequence[Sequence[str]]) -> float:
    """Share of key-fact groups with at least one alternative inside the prediction."""
    if not groups:
        return 1.0
    text = fold(prediction)
    return sum(any(fold(alt) in text for alt in group) for group in groups) / len(groups)


def first_hit(ranked: Sequence[object], gold: Collection[object]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    return next((i + 1 for i, item in enumerate(ranked) if item in gold), None)


def ndcg(ranked: Sequence[object], gold: Collection[object], k: int = 5) -> float:
    """nDCG@k with binary gains; an item ranked twice counts once."""
    seen: set[object] = set()
    gains = 0.0
    for i, item in enumerate(ranked[:k]):
        if item in gold and item not in seen:
            seen.add(item)
            gains += 1 / math.log2(i + 2)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return gains / ideal if ideal else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap_ci(values: Sequence[float], samples: int = 2000, seed: int = 7) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean (``scipy.stats.bootstrap``, deterministic seed).
    A sample without spread (one value, or all alike) has that value as its interval."""
    if not values:
        return (float("nan"), float("nan"))
    if min(values) == max(values):
        return (float(values[0]), float(values[0]))
    result = stats.bootstrap((np.asarray(values, dtype=float),), np.mean, n_resamples=samples,
                             confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed))
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))
