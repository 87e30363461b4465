"""The rules of one entry of ``evidence.jsonl``, in full or redacted (docs/pack-format.md,
"evidence.jsonl" and "Tenant rules"), as the line-by-line check applies them.

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError, InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_batch import Rules
from edgeaudit.verify.pack_files import PackReport

# how another tenant appears in a redacted view's scope: its 1-based position in the inventory,
# or "other-tenant" for a tenant the inventory does not list
NEUTRAL_LABEL: Final = re.compile(r"tenant-[1-9][0-9]*|other-tenant")
_FLOAT: Final = re.compile(rb"[:,\[]-?[0-9]+[.eE]")  # a number with a fraction or exponent
_ORJSON_CANONICAL: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def is_canonical(body: bytes, value: Any) -> bool:
    """Whether ``body`` is the RFC 8785 form of ``value`` (parsed from it). orjson's sorted
    output is that form for ASCII text without fractional or exponent numbers and integers
    within ±(2**53 - 1) (edgeaudit.canonical); anything else is re-encoded exactly."""
    if body.isascii() and not _FLOAT.search(body):
        try:
            if orjson.dumps(value, option=_ORJSON_CANONICAL) == body:
                return True
        except orjson.JSONEncodeError:
            pass
    try:
        return canonical_json(value) == body
    except CanonicalError:
        return False


def check_full(
    body: bytes, rules: Rules, is_cited: bool, number: int, index: int, report: PackReport
) -> bool:
    """A full entry: canonical JSON of an event, the tenant's alone in a tenant pack (or the
    recorded result of a site-wide rule it sees), in the period unless a result cites it."""
    try:
        entry = orjson.loads(body)
        seconds = parse_utc_time(entry.get("time"))[1]
    except (ValueError, AttributeError, InputError) as exc:
        report.add(pf.EVIDENCE, f"entry is not an event ({exc})", number, index)
        return False
    if not is_canonical(body, entry):
        report.add(
            pf.EVIDENCE,
            "entry bytes are not canonical JSON (RFC 8785): the log stores only canonical entries",
            number,
            index,
        )
        return False
    tenant = rules.tenant
    if tenant is not None:
        scope = pf.full_scope(entry)
        if scope != [tenant] and not (index in rules.site_wide and scope == []):
            report.add(
                pf.EVIDENCE,
                f"entry in full is scoped to {scope}, expected only [{tenant!r}]",
                number,
                index,
            )
    if not rules.start <= seconds < rules.end and not is_cited:
        report.add(
            pf.EVIDENCE,
            f"entry time {entry.get('time')} is outside the pack's period",
            number,
            index,
        )
    return True


def check_redacted(
    view: Any,
    tenant: str,
    start: int,
    end: int,
    is_cited: bool,
    number: int,
    index: int,
    report: PackReport,
) -> None:
    """A redacted entry of a tenant pack (docs/pack-format.md, "Tenant rules"): the view has
    only ``kind``, ``time``, ``outcome`` and ``scope``; its scope names the tenant and other
    tenants only by neutral labels; it concerns the tenant (in scope) or one of the tenant's
    results cites it; it is in the period unless cited."""
    if not isinstance(view, dict) or not set(view) <= pf.REDACTED_VIEW:
        extra = sorted(set(view) - pf.REDACTED_VIEW) if isinstance(view, dict) else view
        report.add(
            pf.EVIDENCE,
            f"redacted view may hold only {sorted(pf.REDACTED_VIEW)}, found {extra!r:.80}",
            number,
            index,
        )
        return
    missing = sorted({"kind", "scope", "time"} - set(view))
    if missing:
        report.add(pf.EVIDENCE, f"redacted view lacks {missing}", number, index)
        return
    scope = view.get("scope")
    if not isinstance(scope, list) or not all(isinstance(s, str) for s in scope):
        report.add(pf.EVIDENCE, "redacted view's scope is not a list of names", number, index)
        return
    named = [s for s in scope if s != tenant and not NEUTRAL_LABEL.fullmatch(s)]
    if named:
        report.add(
            pf.EVIDENCE,
            f"redacted view names {named!r:.80} in its scope: another tenant appears only as "
            "a neutral label (tenant-N)",
            number,
            index,
        )
    if tenant not in scope and not is_cited:
        report.add(
            pf.EVIDENCE,
            f"redacted entry is not {tenant}'s (scope {scope!r:.80}) and none of its results "
            "cites it",
            number,
            index,
        )
    for member in ("kind", "outcome"):
        if member in view and not isinstance(view[member], str):
            report.add(pf.EVIDENCE, f"redacted view's {member} is not a string", number, index)
    try:
        seconds = parse_utc_time(view.get("time"))[1]
    except InputError as exc:
        report.add(pf.EVIDENCE, f"redacted view's time: {exc}", number, index)
        return
    if not start <= seconds < end and not is_cited:
        report.add(
            pf.EVIDENCE,
            f"redacted entry time {view.get('time')} is outside the pack's period",
            number,
            index,
        )
