"""Alerts on keys as they are collected: a request made with a Vault root token, and a key made
exportable or deletable (a key-state snapshot showing ``exportable`` or ``deletion_allowed``, a
KMS key scheduled for deletion).

Root-token requests are watched on the kinds Vault's audit parser gives them outside bulk key
use (``vault.request``, ``key.config``, ``key.rotate``); a root token's encrypt or decrypt is
judged by the ``vault-root-token`` rule at the next evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

ROOT_TOKEN: Final = "vault-root-token"  # noqa: S105 (an alert trigger name)
KEY_EXPOSED: Final = "key-exportable-or-deletable"
KINDS: Final = ("vault.request", "key.config", "key.rotate", "key.state")
_DELETION: Final = ("schedule-deletion", "delete")


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def key_alerts(
    index: int, entry: Mapping[str, Any]
) -> Iterator[tuple[str, str, int, str | None, dict[str, Any]]]:
    """(trigger, summary, entry, tenant, detail) of the alerts one stored entry raises."""
    kind = entry.get("kind")
    if kind not in KINDS:
        return
    tenant = entry.get("tenant") if isinstance(entry.get("tenant"), str) else None
    attrs, key, actor = (
        _dict(entry.get("attrs")),
        _dict(entry.get("key")),
        _dict(entry.get("actor")),
    )
    key_id = key.get("key") if isinstance(key.get("key"), str) else None
    if actor.get("credential") == "root-token" or attrs.get("root_token") is True:
        path = attrs.get("path") or _dict(entry.get("target")).get("resource") or "?"
        yield (
            ROOT_TOKEN,
            f"Vault root token used: {attrs.get('operation') or 'request'} on {path} from "
            f"{actor.get('src_ip') or 'an unknown address'} at {entry.get('time')}",
            index,
            tenant,
            {"path": path, "key": key_id, "time": entry.get("time")},
        )
    flags = [f for f in ("exportable", "deletion_allowed") if attrs.get(f) is True]
    if kind == "key.state" and flags:
        yield (
            KEY_EXPOSED,
            f"key {key_id or '?'} is {' and '.join(flags)} (key-state snapshot of "
            f"{entry.get('time')})",
            index,
            tenant,
            {"key": key_id, "flags": flags, "time": entry.get("time")},
        )
    if (
        kind == "key.config"
        and key.get("operation") in _DELETION
        and entry.get("outcome") != ("failure")
    ):
        who = actor.get("principal") or actor.get("user") or "an unresolved identity"
        yield (
            KEY_EXPOSED,
            f"key {key_id or '?'}: deletion {key.get('operation')} by {who} at {entry.get('time')}",
            index,
            tenant,
            {"key": key_id, "operation": key.get("operation"), "time": entry.get("time")},
        )
