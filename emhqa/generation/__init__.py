"""Answer generators behind a name: ``make_generator("extractive", ...)``."""
from __future__ import annotations

from collections.abc import Callable

from ..errors import GeneratorError
from .base import Claim, Draft, Generator

Factory = Callable[..., Generator]


def _extractive(**resources) -> Generator:
    from .extractive import ExtractiveGenerator

    return ExtractiveGenerator(resources["evidence"], resources["encoder"],
                               max_sentences=resources["config"].max_answer_sentences)


REGISTRY: dict[str, Factory] = {"extractive": _extractive}


def register(name: str, factory: Factory) -> None:
    """Make a generator available by name (third-party generators call this)."""
    REGISTRY[name] = factory


def available() -> list[str]:
    return sorted(REGISTRY)


def make_generator(name: str, **resources) -> Generator:
    """Build the named generator; resources are the pipeline's config, evidence and encoder."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise GeneratorError(f"unknown generator {name!r}; available: {', '.join(available())}") from None
    return factory(**resources)


__all__ = ["Claim", "Draft", "Generator", "available", "make_generator", "register"]
