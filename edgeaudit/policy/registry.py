"""The check registry: one function per check, with its declared parameters.

A check is ``fn(ctx: Context, params: Mapping[str, Any]) -> Iterable[Outcome]``, registered with
:func:`check`. Third parties register theirs in a module named by an ``edgeaudit.checks`` entry
point; it is imported when the registry is first used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Final

from edgeaudit.errors import ConfigError

if TYPE_CHECKING:
    from edgeaudit.collect.inventory import Inventory
    from edgeaudit.policy.context import Context
    from edgeaudit.policy.model import Outcome

PARAM_KINDS: Final = frozenset({"duration", "int", "text", "texts", "bool", "records"})
CheckFn = Callable[["Context", Mapping[str, Any]], Iterable["Outcome"]]


@dataclass(frozen=True, slots=True)
class Param:
    kind: str  # duration (seconds), int, text, texts (tuple), bool, records (tuple of dicts)
    default: Any
    help: str = ""
    # checks the value when the rule file is loaded; raises ValueError with the problem
    validate: Callable[[Any], object] | None = None
    # checks the names the value gives against the inventory (one record at a time for
    # ``records``); raises ValueError naming the unknown name
    refs: Callable[[Any, Inventory], object] | None = None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    title: str
    streams: tuple[str, ...]
    params: Mapping[str, Param]
    fn: CheckFn
    # reads the store itself (reader, verification, quarantine, source summaries), not only
    # its events: a campus assessment runs it once per log, each result scoped to its log
    per_log: bool = False


_REGISTRY: dict[str, CheckSpec] = {}
_loaded = False


def check(
    name: str, title: str, streams: tuple[str, ...], *, per_log: bool = False, **params: Param
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as check ``name`` (e.g. ``jit.session_covered``). ``per_log``: the check
    reads the store itself (see :attr:`CheckSpec.per_log`)."""
    for p in params.values():
        if p.kind not in PARAM_KINDS:
            raise ValueError(f"check {name}: unknown parameter kind {p.kind!r}")

    def register(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ConfigError(f"check {name!r} is registered twice")
        _REGISTRY[name] = CheckSpec(name, title, streams, dict(params), fn, per_log)
        return fn

    return register


def registry() -> Mapping[str, CheckSpec]:
    """Every registered check: the built-in ones and those of installed plug-ins."""
    global _loaded
    if not _loaded:
        _loaded = True
        from edgeaudit.policy import checks  # noqa: F401  (registers the built-in checks)

        for ep in entry_points(group="edgeaudit.checks"):
            try:
                ep.load()
            except Exception as exc:
                raise ConfigError(f"check plug-in {ep.name!r} ({ep.value}) failed: {exc}") from exc
    return _REGISTRY
