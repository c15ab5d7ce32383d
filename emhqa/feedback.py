"""Thumbs up/down on answers, kept in a local JSONL file so that real use can feed the dev set.

Each line records the question as typed, the question it was answered as, the answer, its citations
(quotes and offsets) and the verdict. Nothing is sent anywhere; ``Config.feedback_file`` (``EMHQA_FEEDBACK``)
says where the file is, or turns it off.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from filelock import FileLock

from .types import Answer

VERDICTS = ("helpful", "wrong")


def record(path: Path, answer: Answer, verdict: str) -> None:
    """Append one verdict on ``answer`` to ``path`` (created with its folder on first use)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "verdict": verdict, "question": answer.question,
           "answered_as": answer.answered_as, "answer": answer.text,
           "abstained": answer.abstained, "citations": [c.to_dict() for c in answer.citations]}
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=10), path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def summary(path: Path | None) -> dict[str, int]:
    """How many answers were marked helpful and wrong (unreadable lines are counted apart)."""
    counts: Counter[str] = Counter({verdict: 0 for verdict in VERDICTS})
    if path is None or not path.is_file():
        return dict(counts)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            counts[json.loads(line)["verdict"]] += 1
        except (ValueError, KeyError, TypeError):
            counts["unreadable"] += 1
    return dict(counts)
