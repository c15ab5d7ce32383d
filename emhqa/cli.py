"""The ``emhqa`` command: index, ask, chat, eval, tune. Heavy imports happen only inside commands."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .citations import location, marker
from .config import MAX_K

EXIT_ERROR, EXIT_USAGE = 1, 2


def _path(text: str) -> Path:
    """A path argument; one holding a NUL character (which no file name can) is a usage error."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError("a path cannot hold a NUL character")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emhqa", description="Cited answers about extramedullary "
                                     "hematopoiesis from a curated corpus (offline).")
    parser.add_argument("--version", action="version", version=f"emhqa {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="count", default=0, help="more log messages (-vv: debug)")
    loudness.add_argument("-q", "--quiet", action="store_true", help="errors only")
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="build the index (only when missing or stale)")
    index.add_argument("--rebuild", action="store_true", help="rebuild even when up to date")
    ask = commands.add_parser("ask", help="answer one question with its sources")
    ask.add_argument("question", nargs="?",
                     help="the question; '-' (or none, with input piped) reads it from standard input")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    ask.add_argument("-k", type=int, default=5, help=f"passages to retrieve (1-{MAX_K}, default 5)")
    ask.add_argument("--generator", default="extractive",
                     help="extractive (default), llm, an entry-point name or package.module:factory")
    ask.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                     help="show an LLM's draft on stderr as it arrives (default: when stderr is a terminal)")
    _llm_options(ask)
    chat = commands.add_parser("chat", help="a conversation: follow-up questions build on earlier answers "
                               "(one question per line when input is piped)")
    chat.add_argument("-k", type=int, default=5, help=f"passages to retrieve (1-{MAX_K}, default 5)")
    chat.add_argument("--generator", default="extractive",
                      help="extractive (default), llm, an entry-point name or package.module:factory")
    _llm_options(chat)
    evaluate = commands.add_parser("eval", help="score the system against the FAQ and dev questions")
    evaluate.add_argument("--regime", default="all",
                          help="lookup, loo, dev, near-topic, off-topic, first-turn, follow-up, follow-up-alone, "
                               "follow-up-near, or all (default)")
    evaluate.add_argument("--generator", default="extractive")
    evaluate.add_argument("--questions", type=_path, metavar="FILE",
                          help="your own question file (JSONL; README, \"Evaluation\") instead of eval/dev.jsonl")
    _llm_options(evaluate)
    evaluate.add_argument("--split", choices=["tune", "report", "all"], default="all",
                          help="which half of the dev set to use (default: all)")
    evaluate.add_argument("--json", type=_path, metavar="PATH", help="write the full report as JSON")
    evaluate.add_argument("--markdown", type=_path, metavar="PATH", help="write the report as Markdown")
    evaluate.add_argument("--trec", type=_path, metavar="DIR",
                          help="write qrels.txt and a TREC run per retrieval mode (run-hybrid.txt, ...) into DIR")
    evaluate.add_argument("--per-question", type=_path, metavar="FILE",
                          help="write one JSON object per question and mode: answer, citations, passages with "
                               "their text, gold, scores, and RAGAS's field names (EVALUATION.md, \"Exports\")")
    add = commands.add_parser("add", help="add a case report, article or FAQ (text, Markdown, PDF with a text "
                                          "layer, or HTML), then index")
    add.add_argument("file", type=_path)
    add.add_argument("--title", required=True, help="shown with every citation of this file")
    add.add_argument("--kind", required=True, choices=["case", "faq", "article", "outline"])
    add.add_argument("--publisher")
    add.add_argument("--replace", action="store_true", help="replace a file of the same name")
    remove = commands.add_parser("remove", help="remove a document (by file name) and its passages, then index")
    remove.add_argument("name")
    commands.add_parser("tune", help="refit the sentence model and abstention on the tuning half of eval/dev.jsonl")
    return parser


def _llm_options(command: argparse.ArgumentParser) -> None:
    group = command.add_argument_group("llm generator (defaults from EMHQA_LLM_* variables; the API key "
                                       "only from EMHQA_LLM_API_KEY or OPENAI_API_KEY)")
    group.add_argument("--llm-provider", choices=["openai", "ollama"])
    group.add_argument("--llm-model")
    group.add_argument("--llm-base-url", help="e.g. http://localhost:8000/v1 (vLLM, llama.cpp, LM Studio)")
    group.add_argument("--llm-temperature", type=float)
    group.add_argument("--llm-timeout", type=float, help="seconds (default 30)")
    group.add_argument("--llm-max-tokens", type=int)


def _config(args):
    from dataclasses import replace

    from .config import Config

    config = Config()
    overrides = {name: getattr(args, f"llm_{name}") for name in
                 ("provider", "model", "base_url", "temperature", "timeout", "max_tokens")
                 if getattr(args, f"llm_{name}", None) is not None}
    config = config.with_(llm=replace(config.llm, **overrides)) if overrides else config
    if args.generator == "llm":
        config.llm.check()  # refuse bad settings before loading the model
    return config


def _source_line(c, titles: dict[str, str]) -> str:
    """"[1] <title> — <section> (<file>, [page n, ]characters s-e)": where a citation's quote is."""
    return f"{marker(c.marker)} {titles.get(c.source, c.source)} — {c.section} ({c.source}, {location(c)})"


def _render(answer, titles: dict[str, str]) -> str:
    lines = ([f"Answered as: {answer.read_as}"] if answer.read_as else []) + [answer.text, ""]
    lines += [f"Note: {warning}" for warning in answer.details.warnings if warning]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            quote = "" if answer.shows_quote(c) else f": \"{' '.join(c.quote.split())}\""
            lines.append(_source_line(c, titles) + quote)
        lines.append("")
    lines.append(answer.notice)
    return "\n".join(lines)


def _ask(args) -> int:
    from .errors import QuestionError
    from .pipeline import load
    from .text import validate_question

    question = args.question
    if question is None and sys.stdin.isatty():
        raise QuestionError("no question: give one (emhqa ask \"...\"), or pipe it in (emhqa ask - < file)")
    if question in (None, "-"):
        question = sys.stdin.read()
    validate_question(question)  # refuse bad input before loading the model
    qa = load(_config(args), generator=args.generator)
    stream = sys.stderr.isatty() and not args.json if args.stream is None else args.stream
    on_token = (lambda token: print(token, end="", file=sys.stderr, flush=True)) if stream else None
    if on_token:
        print("(draft, verified below)", file=sys.stderr)
    answer = qa.ask(question, k=args.k, on_token=on_token)
    if on_token:
        print("\n", file=sys.stderr)
    print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) if args.json
          else _render(answer, qa.index.titles))
    return 0


CHAT_HELP = "Ask about EMH; follow-ups build on earlier answers. Commands: /sources, /clear, /quit."


def _sources(answer, titles: dict[str, str]) -> str:
    """Every citation of ``answer`` with its whole quote and offsets."""
    if answer is None or not answer.citations:
        return "(no sources yet)"
    return "\n".join(f"{_source_line(c, titles)}:\n    \"{' '.join(c.quote.split())}\"" for c in answer.citations)


def _chat(args) -> int:
    from .conversation import Conversation
    from .errors import QuestionError
    from .pipeline import load

    qa = load(_config(args), generator=args.generator)
    conversation = Conversation(qa)
    interactive = sys.stdin.isatty()
    if interactive:
        print(CHAT_HELP)
    for line in _lines(interactive):
        command = line.strip().lower()
        if not command:
            continue
        if command in ("/quit", "/exit", "quit", "exit"):
            break
        if not interactive:
            print(f"> {line.strip()}")
        if command == "/clear":
            conversation.clear()
            print("(a new conversation)\n")
        elif command == "/sources":
            last = conversation.turns[-1].answer if conversation.turns else None
            print(_sources(last, qa.index.titles) + "\n")
        elif command.startswith("/"):
            print(CHAT_HELP + "\n")
        else:
            try:
                print(_render(conversation.ask(line, k=args.k), qa.index.titles) + "\n")
            except QuestionError as exc:
                print(f"emhqa: {exc}\n", file=sys.stderr)
    return 0


def _lines(interactive: bool):
    """Questions typed at a prompt, or read one per line from piped input."""
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input("you> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return


def _index(args, complete: bool = True) -> int:
    """Open (build when needed) the index and say what it holds; ``complete``: embed the documents that
    were indexed keyword-first (``emhqa index``) rather than leave them to the background (add, remove)."""
    from .config import Config
    from .index import open_backend, open_index

    config = Config()
    index = open_index(config, rebuild=getattr(args, "rebuild", False), complete=complete,
                       progress=lambda message: print(message, file=sys.stderr))
    manifest = index.manifest
    print(f"index ready in {open_backend(config)}: {manifest.chunk_count} chunks, {manifest.sentence_count} sentences "
          f"from {len(manifest.documents)} documents (built {manifest.built_at}; "
          f"{'?' if manifest.embedded is None else manifest.embedded} texts embedded, {manifest.reused} reused)")
    for name, reason in manifest.skipped.items():
        print(f"skipped {name}: {reason}")
    for name in sorted(manifest.awaiting_vectors):
        print(f"{name} is answered from keyword search until its vectors are computed "
              f"({'in the background; ' if config.background_index else ''}`emhqa index` computes them)")
    return 0


def _add(args) -> int:
    from .config import Config
    from .corpus import add_document

    name = add_document(Config().corpus_dir, args.file, args.title, args.kind, args.publisher, args.replace)
    print(f"added {name} ({args.kind}): cite it as {name}")
    return _index(args, complete=False)


def _remove(args) -> int:
    from .config import Config
    from .corpus import remove_document

    remove_document(Config().corpus_dir, args.name)
    print(f"removed {args.name}")
    return _index(args, complete=False)


def _eval(args) -> int:
    from .errors import EmhqaError
    from .evaluation import (DEV_FILE, REGIMES, evaluate, read_questions, to_markdown, to_table, write_per_question,
                             write_trec)
    from .pipeline import load

    if args.regime not in (*REGIMES, "all"):
        raise EmhqaError(f"unknown regime {args.regime!r}; choose one of {', '.join(REGIMES)} or all")
    outputs = (args.json, args.markdown, args.per_question, args.trec and args.trec / "qrels.txt")
    for path in (p for p in outputs if p is not None):  # found before the run, not after it
        folder = path.parent.resolve()
        if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
            why = "it is a folder" if path.is_dir() else "its folder is missing or not writable"
            raise EmhqaError(f"cannot write {path}: {why}")
    if not args.questions:
        _need_checkout("emhqa eval without --questions FILE")
    questions = args.questions or DEV_FILE
    read_questions(questions)  # a bad file is named before the model loads
    qa = load(_config(args))
    regimes = (REGIMES if args.regime == "all" else (args.regime,)) if not args.questions else \
        ("dev", "near-topic", "off-topic")
    report = evaluate(qa, regimes, generator=args.generator, split=None if args.split == "all" else args.split,
                      show_progress=sys.stderr.isatty(), questions=questions)
    print(to_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(to_markdown(report), encoding="utf-8")
    if args.trec:
        write_trec(report, qa.index.chunks, args.trec)
    if args.per_question:
        write_per_question(report, qa.index.chunks, args.per_question)
    return 0


def _need_checkout(command: str) -> None:
    """EmhqaError unless emhqa runs from a source checkout: only it has the eval/ questions, and only
    there may the shipped abstention weights be refitted (never inside an installed package)."""
    from .config import CHECKOUT
    from .errors import EmhqaError

    if not CHECKOUT:
        raise EmhqaError(f"{command} needs the eval/ questions of a source checkout (git clone the "
                         "repository, then pip install -e .); the installed package has none")


def _tune(args) -> int:
    _need_checkout("emhqa tune")
    from . import abstention, sentence_model
    from .evaluation import tune_abstention, tune_sentences
    from .pipeline import load

    qa = load()
    sentences, held_out = tune_sentences(qa, save_to=sentence_model.WEIGHTS_FILE)
    summary = {"sentences": sentences,  # abstention is fitted on the new answers, cross-fitted
               "abstention": tune_abstention(qa, save_to=abstention.WEIGHTS_FILE, held_out=held_out)}
    print(json.dumps(summary, indent=2))
    print(f"saved {sentence_model.WEIGHTS_FILE} and {abstention.WEIGHTS_FILE}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="emhqa: %(message)s")
    from .errors import ConfigError, EmhqaError, QuestionError

    try:
        return {"ask": _ask, "chat": _chat, "index": _index, "add": _add, "remove": _remove, "eval": _eval,
                "tune": _tune}[args.command](args)
    except BrokenPipeError:  # output piped into `head` and closed early
        return 0
    except (QuestionError, ConfigError) as exc:
        print(f"emhqa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EmhqaError as exc:
        print(f"emhqa: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
