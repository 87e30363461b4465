"""Parsers are found through the ``edgeaudit.parsers`` entry-point group, built-ins included."""

from __future__ import annotations

from importlib.metadata import entry_points

from edgeaudit.collect.interface import Parser, is_parser
from edgeaudit.errors import ConfigError, InputError

GROUP = "edgeaudit.parsers"


def kinds() -> list[str]:
    """The names of every registered parser."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def parser_class(kind: str) -> type[Parser]:
    """The parser registered as ``kind``; a clear error naming the known kinds otherwise."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == kind]
    if not found:
        raise InputError(f"unknown source kind {kind!r}; known: {', '.join(kinds())}")
    if len(found) > 1:
        raise ConfigError(f"source kind {kind!r} is registered twice: {found}")
    try:
        cls = found[0].load()
    except Exception as exc:  # a broken third-party plugin must not look like our bug
        raise ConfigError(f"parser {kind!r} ({found[0].value}) cannot be loaded: {exc}") from exc
    if not is_parser(cls) or cls.name != kind:
        raise ConfigError(f"{found[0].value} does not implement the parser interface for {kind!r}")
    return cls  # type: ignore[no-any-return]
