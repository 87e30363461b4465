"""Per-event access decisions in Cedar (cedarpy): "may this principal do this action on this
resource in this context?". The only module that imports cedarpy.

Entities come from the inventory: ``Principal`` (org, tenant, roles), ``Asset`` (owner, kind,
segment), ``Key`` (owner, provider), ``Door``. Actions: ``admin.session``, ``priv.switch``,
``key.use``, ``key.rotate``, ``key.config``, ``door.entry``. Context (all booleans):
``active_grant``, ``break_glass``, ``in_window``, ``authorized``. Principals, assets and keys
the inventory does not know (an offboarded account, an uninventoried host) are entities with
``org "unknown"`` and empty attributes, so evidence about them is judged, never an error.
Built-in policies (``builtin.cedar``) ship as defaults; operators add ``*.cedar`` files under
``policies/access/``. Decisions are made in batches and identical requests are decided once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cedarpy

from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import ConfigError

BUILTIN: Final = Path(__file__).with_name("builtin.cedar")
ACTIONS: Final = (
    "admin.session",
    "priv.switch",
    "key.use",
    "key.rotate",
    "key.config",
    "door.entry",
)
CONTEXT_KEYS: Final = ("active_grant", "break_glass", "in_window", "authorized")


@dataclass(frozen=True, slots=True)
class Request:
    principal: str  # inventory id, or "unresolved: user" for an identity that did not resolve
    action: str
    resource_type: str  # Asset, Key, Door
    resource: str
    context: tuple[bool, bool, bool, bool] = (False, False, False, False)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    policies: tuple[str, ...]  # ids of the policies that determined it
    error: str | None = None  # Cedar could not evaluate the request: denied, with the reason


# attributes of a principal, asset or key the inventory does not know (an offboarded account,
# a host or key that is not inventoried): evidence about them is judged, never an error
_UNKNOWN_ATTRS: Final[dict[str, dict[str, Any]]] = {
    "Principal": {"org": "unknown", "tenant": "", "roles": [], "type": "unknown"},
    "Asset": {"owner": "", "kind": "", "segment": ""},
    "Key": {"owner": "", "provider": ""},
    "Door": {},
}


class Decider:
    def __init__(self, inventory: Inventory, extra_files: Sequence[Path] = ()) -> None:
        texts = [BUILTIN.read_text(encoding="utf-8")]
        for f in extra_files:
            try:
                texts.append(f.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(f"{f}: cannot read: {exc.strerror}") from None
        self.files = (BUILTIN, *extra_files)
        self._policies = "\n".join(texts)
        _validate(list(zip(self.files, texts, strict=True)))
        self._policy_set = cedarpy.PolicySet.from_str(self._policies)
        self._inventory = inventory
        self._base = _entities(inventory)
        self._known = {(e["uid"]["type"], e["uid"]["id"]) for e in self._base}
        self._extra: dict[tuple[str, str], dict[str, Any]] = {}
        self._entities: Any = None
        self._cache: dict[Request, Decision] = {}
        self.evaluated = 0  # requests sent to Cedar (after the cache)

    def known(self, entity_type: str, eid: str) -> bool:
        """Whether the inventory has this principal / asset / key."""
        return (entity_type, eid) in self._known

    def decide(self, requests: Iterable[Request]) -> list[Decision]:
        """One decision per request. Never raises for what evidence contains: a request Cedar
        cannot evaluate is denied, with the error in :attr:`Decision.error`."""
        reqs = list(requests)
        todo = list(dict.fromkeys(r for r in reqs if r not in self._cache))
        if todo:
            self._ensure_entities(todo)
            batch = [
                {
                    "principal": {"type": "Principal", "id": r.principal},
                    "action": {"type": "Action", "id": r.action},
                    "resource": {"type": r.resource_type, "id": r.resource},
                    "context": dict(zip(CONTEXT_KEYS, r.context, strict=True)),
                }
                for r in todo
            ]
            failure = ""
            results: list[Any]
            try:
                results = cedarpy.is_authorized_batch(batch, self._policy_set, self._entities)
            except Exception as exc:  # cedarpy raises on malformed batches: deny, keep going
                results = [None] * len(todo)
                failure = f"{type(exc).__name__}: {exc}"
            self.evaluated += len(todo)
            for r, res in zip(todo, results, strict=True):
                if res is None:
                    self._cache[r] = Decision(False, (), failure)
                    continue
                errors = list(getattr(res.diagnostics, "errors", []) or [])
                reasons = tuple(sorted(getattr(res.diagnostics, "reasons", []) or []))
                error = str(errors[0]) if errors else None
                self._cache[r] = Decision(bool(res.allowed) and error is None, reasons, error)
        return [self._cache[r] for r in reqs]

    def _ensure_entities(self, todo: list[Request]) -> None:
        new = False
        for r in todo:
            for etype, eid in (("Principal", r.principal), (r.resource_type, r.resource)):
                key = (etype, eid)
                if key not in self._known and key not in self._extra:
                    self._extra[key] = _entity(etype, eid, dict(_UNKNOWN_ATTRS.get(etype, {})))
                    new = True
        if new or self._entities is None:
            extra = [self._extra[k] for k in sorted(self._extra)]
            self._entities = cedarpy.Entities.from_json_str(_dumps(self._base + extra))


def _entity(kind: str, eid: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"uid": {"type": kind, "id": eid}, "attrs": attrs, "parents": []}


def _entities(inv: Inventory) -> list[dict[str, Any]]:
    out = [
        _entity(
            "Principal",
            p.id,
            {"org": p.org, "tenant": p.tenant or "", "roles": list(p.roles), "type": p.type},
        )
        for p in inv.principals
    ]
    out += [
        _entity("Asset", a.hostname, {"owner": a.owner, "kind": a.kind, "segment": a.segment or ""})
        for a in inv.assets
    ]
    out += [_entity("Key", k.id, {"owner": k.tenant, "provider": k.provider}) for k in inv.keys]
    return out


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value)


def _validate(sources: Sequence[tuple[Path, str]]) -> None:
    """Parse each file alone, so an error names the file and the line of the failing policy."""
    for path, text in sources:
        try:
            cedarpy.PolicySet.from_str(text)
        except Exception as exc:  # cedarpy raises ValueError with the parser's message
            raise ConfigError(
                f"{path}:{_bad_line(text)}: Cedar policy does not parse: {exc}"
            ) from None


def _bad_line(text: str) -> int:
    """The line where the first policy that does not parse starts (cedarpy reports no
    position): the longest prefix ending in ';' that parses ends just before it."""
    good = 0
    for i, ch in enumerate(text):
        if ch == ";":
            try:
                cedarpy.PolicySet.from_str(text[: i + 1])
            except Exception:
                break
            good = i + 1
    line = text.count("\n", 0, good) + 1
    for chunk in text[good:].split("\n"):
        if chunk.strip() and not chunk.strip().startswith("//"):
            return line
        line += 1
    return text.count("\n", 0, good) + 1
