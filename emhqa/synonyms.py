"""Words people ask with, and the words medical sources answer with ("causes" / "responsible for",
"chest" / "mediastinal", "lumps" / "masses").

A small fixed list (README, "How it works"): when a question's focus word is one of these, a sentence
that uses a related word counts as containing it. It widens matching; it never adds words to what is
quoted. Groups are symmetric: every word of a group stands for the others.
"""
from __future__ import annotations

from functools import lru_cache

from .text import tokens

_GROUPS = (
    "cause causes caused responsible due result results because secondary leads etiology reason",
    "mechanism pathophysiology pathogenesis",
    "symptoms symptom signs sign complaints presents presentation",
    "treat treated treatment therapy radiotherapy transfusion transfusions management managed surgery",
    "diagnose diagnosed diagnosis confirm confirmed biopsy",
    "appearance appear appears look looks seen shows showed demonstrated signal",
    "grow grows growth enlarge enlarged enlargement size",
    "where site sites located location occur occurs found",
    "common commonly usual usually frequent frequently typical typically often classic characteristic",
    "rare rarely uncommon unusual",
    "chest thorax thoracic mediastinal mediastinum intrathoracic",
    "back spine spinal vertebral paravertebral paraspinal",
    "belly abdomen abdominal",
    "kidney kidneys renal perirenal",
    "liver hepatic hepatomegaly",
    "spleen splenic splenomegaly",
    "bone bones osseous skeletal",
    "rib ribs costal paracostal",
    "heart cardiac cardiomegaly pericardium pericardial",
    "lung lungs pulmonary pleura pleural pleuritic",
    "breath breathing breathless dyspnea respiratory",
    "clot clots thrombosis thromboses thrombus",
    "bleed bleeding hemorrhage haemorrhage",
    "brain intracranial",
    "dye contrast",
    "lump lumps mass masses tumor tumors nodule nodules",
    "blood-forming blood-making hematopoietic hematopoiesis",
    "microscopic naked visible macroscopic",
    "cancer malignancy malignant neoplasm",
    "scan imaging",
    "outcome prognosis",
    "help helps aid aids assist",
    "below beneath under lower caudal inferior",
)


@lru_cache(maxsize=1)
def _by_token() -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = {}
    for group in _GROUPS:
        members = frozenset(tokens(group))
        for token in members:
            related.setdefault(token, set()).update(members)
    return {token: frozenset(members) for token, members in related.items()}


def related(token: str) -> frozenset[str]:
    """The tokens that stand for ``token`` (itself included)."""
    return _by_token().get(token, frozenset({token}))
