"""Answer generators behind a name: ``make_generator("extractive", ...)``.

Names resolve in order: built-ins and ``register()``-ed factories, then the ``emhqa.generators``
entry point group of installed packages, then a dotted path ``package.module:factory``. A factory
is called with the keyword arguments ``config``, ``evidence`` and ``encoder`` and returns a
``Generator``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

from ..errors import EmhqaError, GeneratorError
from .base import Claim, Draft, Generator

Factory = Callable[..., Generator]
ENTRY_POINT_GROUP = "emhqa.generators"


def _extractive(**resources) -> Generator:
    from .extractive import ExtractiveGenerator

    return ExtractiveGenerator(resources["evidence"])


def _llm(**resources) -> Generator:
    from .llm import LLMGenerator, make_chat_model
    from .support import SupportChecker

    config = resources["config"]
    config.llm.check()
    return LLMGenerator(make_chat_model(config.llm), SupportChecker(resources["evidence"], resources["encoder"]),
                        fallback=_extractive(**resources), settings=config.llm,
                        max_sentences=config.selection.max_sentences)


REGISTRY: dict[str, Factory] = {"extractive": _extractive, "llm": _llm}


def register(name: str, factory: Factory) -> None:
    """Make a generator available by name in this process."""
    REGISTRY[name] = factory


def available() -> list[str]:
    """Registered and entry-point generator names (dotted paths work too but are not listed)."""
    return sorted(set(REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _factory(name: str) -> Factory:
    if name in REGISTRY:
        return REGISTRY[name]
    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return entry_point.load()
    if ":" in name:
        module, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except Exception as exc:  # a bad path (":", "..x:y") or a module that fails as it is imported
            raise GeneratorError(f"cannot import generator {name!r} ({type(exc).__name__}: {exc}); give "
                                 f"package.module:factory, or one of: {', '.join(available())}") from exc
    raise GeneratorError(f"unknown generator {name!r}; available: {', '.join(available())} "
                         "(or a dotted path package.module:factory)")


def make_generator(name: str, **resources) -> Generator:
    """Build the named generator; resources are the pipeline's config, evidence and encoder."""
    factory = _factory(name)
    try:
        generator = factory(**resources)
    except EmhqaError:  # a bad setting or a missing package, already said plainly
        raise
    except Exception as exc:  # a third-party factory's failure, e.g. a wrong signature
        raise GeneratorError(f"generator {name!r} could not be created ({type(exc).__name__}: {exc})") from exc
    if not isinstance(generator, Generator):
        raise GeneratorError(f"generator {name!r} did not return an emhqa Generator")
    return generator


__all__ = ["Claim", "Draft", "Generator", "available", "make_generator", "register"]
