"""Does a long conversation slow a turn down? Time each turn of a 50-turn chat against its first turns.

Every turn is timed cold: the question, analysis and embedding caches are cleared before it, so a later
turn gains nothing from an earlier identical question. The turns cycle through follow-ups of the two
case reports and the topic (pronouns, ellipsis, "the other case", questions that stand alone).

    python benchmarks/conversation_turns.py [--turns 50] [--repeats 3]

Prints one JSON line: median per-turn milliseconds of the first ten turns and of the last ten (the same
ten questions, in the same order), and their ratio.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import emhqa
from emhqa.conversation import Conversation

CYCLE = (
    "What did the CT show in the thalassemia patient?",
    "and the chest x-ray?",
    "what were his symptoms?",
    "what about the other patient?",
    "how old was he?",
    "How is extramedullary hematopoiesis treated?",
    "why does radiotherapy work?",
    "is that typical?",
    "Where is EMH usually found?",
    "and in the chest?",
)


def run(turns: int) -> list[float]:
    qa = emhqa.load()
    qa.ask(CYCLE[0])  # warm the model and the index once
    conversation = Conversation(qa)
    seconds = []
    for n in range(turns):
        qa.forget_questions()
        started = time.perf_counter()
        conversation.ask(CYCLE[n % len(CYCLE)])
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50, help=f"at least {len(CYCLE) * 2}")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.turns) for _ in range(args.repeats)]
    per_turn = [statistics.median(r[n] for r in runs) * 1000 for n in range(args.turns)]
    window = len(CYCLE)
    last_start = (args.turns // window - 1) * window  # the last full cycle: the same questions as the first
    first = statistics.median(per_turn[:window])
    last = statistics.median(per_turn[last_start:last_start + window])
    print(json.dumps({"turns": args.turns, "repeats": args.repeats, "first_cycle_p50_ms": round(first, 2),
                      "last_cycle_p50_ms": round(last, 2), "ratio_last_to_first": round(last / first, 3)}))


if __name__ == "__main__":
    main()
