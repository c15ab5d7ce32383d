"""The fitters behind the sentence and abstention models (``emhqa.logistic``), on synthetic rows."""
import numpy as np

from emhqa import sentence_model
from emhqa.logistic import fit_choice


def _groups(seed: int, n: int = 40, size: int = 6):
    """Rows in groups of ``size``: the answer is the row with the highest ``x`` of its group, while the
    groups' levels of ``x`` differ widely and ``level`` is the same for every row of a group."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for g in range(n):
        level = rng.normal(0, 5)
        x = level + rng.normal(0, 1, size)
        for i in range(size):
            rows.append({"x": float(x[i]), "level": level})
            labels.append(int(i == int(np.argmax(x))))
            groups.append(g)
    return rows, labels, groups


def test_a_choice_fit_learns_which_row_of_a_group_answers():
    rows, labels, groups = _groups(0)
    weights = fit_choice(rows, labels, groups, ("x", "level"), penalty=1.0)
    assert weights["x"] > 0 and abs(weights["level"]) < 0.05 * weights["x"]  # a group's own level cancels
    test_rows, test_labels, test_groups = _groups(1)
    score = [weights["x"] * r["x"] + weights["level"] * r["level"] for r in test_rows]
    for g in set(test_groups):
        members = [i for i, h in enumerate(test_groups) if h == g]
        assert test_labels[max(members, key=lambda i: score[i])] == 1


def test_the_sentence_model_ranks_by_its_choice_fit_and_scales_to_a_probability(monkeypatch):
    monkeypatch.setattr(sentence_model, "FEATURES", ("x", "level"))
    rows, labels, groups = _groups(2)
    model = sentence_model.fit(rows, labels, groups)
    direction = fit_choice(rows, labels, groups, ("x", "level"), sentence_model.CHOICE_PENALTY)
    probabilities = model.probabilities(rows)
    assert ((0 < probabilities) & (probabilities < 1)).all()
    raw = np.array([direction["x"] * r["x"] + direction["level"] * r["level"] for r in rows])
    assert (np.argsort(probabilities, kind="stable") == np.argsort(raw, kind="stable")).all()
