"""``evidence.jsonl`` and ``proofs.jsonl`` of an audit pack: every line canonical, every entry
proven, the tenant rules held (docs/pack-format.md, "evidence.jsonl" and "Tenant rules").

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import binascii
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.errors import CanonicalError, InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_files import PackFiles, PackReport, lines
from edgeaudit.verify.pack_paths import (
    InclusionPaths,
    check_multiproof,
    check_proof,
    json_line,
)

# how another tenant appears in a redacted view's scope: its 1-based position in the inventory,
# or "other-tenant" for a tenant the inventory does not list
NEUTRAL_LABEL: Final = re.compile(r"tenant-[1-9][0-9]*|other-tenant")
_FULL_KEYS: Final = frozenset({"entry", "index", "leaf_hash"})
_REDACTED_KEYS: Final = frozenset({"index", "leaf_hash", "redacted"})


@dataclass
class Cited:
    """What the results cite: index -> [(result id, leaf hash)], and the indexes cited by a
    result the pack's tenant may see (all of them in a site pack)."""

    refs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    present: dict[int, str] = field(default_factory=dict)  # cited index -> proven leaf hash
    records: dict[int, str] = field(default_factory=dict)  # record index -> result id
    site_wide_records: set[int] = field(default_factory=set)  # ... of site-wide results
    bodies: dict[int, bytes] = field(default_factory=dict)  # record index -> entry bytes
    views: dict[int, Any] = field(default_factory=dict)  # record index -> redacted view


# a full line exactly as pf.evidence_line writes it (its base64 checked by _canonical_base64)
_FULL_LINE: Final = re.compile(
    rb'\{"entry":"([A-Za-z0-9+/]*={0,2})","index":(0|[1-9][0-9]{0,15}),'
    rb'"leaf_hash":"([0-9a-f]{64})"\}\n'
)
_NO_MEMBERS: Final[dict[str, Any]] = {}


def _canonical_base64(text: bytes) -> bytes | None:
    """The bytes of standard, canonically padded base64 (None otherwise)."""
    try:
        body = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return body if binascii.b2a_base64(body, newline=False) == text else None


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


def _canonical_line(value: dict[str, Any]) -> bytes | None:
    try:
        return canonical_json(value) + b"\n"
    except CanonicalError:
        return None


def check_entries(
    files: PackFiles,
    manifest: dict[str, Any],
    size: int,
    root: bytes,
    cited: Cited,
    report: PackReport,
) -> None:
    for name in (pf.EVIDENCE, pf.PROOFS):
        if not files.has(name):
            report.add(name, "missing: no entry can be proven without it")
            return
    tenant = manifest.get("tenant")
    period = manifest.get("period") or {}
    try:
        start = parse_utc_time(period.get("from"))[1]
        end = parse_utc_time(period.get("to"))[1]
    except InputError as exc:
        report.add(pf.MANIFEST, f"period: {exc}")
        return
    last = -1
    paths = InclusionPaths(size, root)
    # edgeaudit-pack/2: one multi-proof for all entries, checked after the last line; until
    # then an entry is only pending (its index and leaf hash gathered for the proof)
    multi = manifest.get("format") != pf.FORMAT_V1
    if not multi:
        report.warnings.append(
            f"{pf.FORMAT_V1} pack (the older format, an inclusion proof per entry), verified "
            f"by its rules; pack build writes {pf.FORMAT}: a pack of a new period in the older "
            "format is a downgrade to question"
        )
    indices: array[int] = array("q")
    leaves = bytearray()
    pending: list[tuple[int, str, bytes | None, dict[str, Any]]] = []
    pending_count = 0
    evidence = lines(files, pf.EVIDENCE)
    pairs = (
        ((item, None) for item in evidence)
        if multi
        else _zip_longest(evidence, lines(files, pf.PROOFS), report)
    )
    rec: dict[str, Any] | None
    index: Any
    leaf_hex: Any
    for (number, raw), proof_line in pairs:
        fast = _FULL_LINE.fullmatch(raw) if raw is not None else None
        fast_body = _canonical_base64(fast[1]) if fast is not None else None
        if fast is not None and fast_body is not None:
            # the canonical {entry, index, leaf_hash} line, read without a JSON parser
            rec, index, leaf_hex = _NO_MEMBERS, int(fast[2]), fast[3].decode("ascii")
        else:
            fast_body = None
            rec = json_line(report, pf.EVIDENCE, number, raw) if raw is not None else None
            if rec is None:
                continue
            index, leaf_hex = rec.get("index"), rec.get("leaf_hash")
        prf = json_line(report, pf.PROOFS, proof_line[0], proof_line[1]) if proof_line else None
        if fast_body is None and (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(leaf_hex, str)
            or not pf.HASH_HEX.fullmatch(leaf_hex)
        ):
            report.add(pf.EVIDENCE, "needs an integer index and a 64-hex leaf_hash", number)
            continue
        if index <= last:
            report.add(
                pf.EVIDENCE,
                f"index {index} does not follow {last} (entries must ascend)",
                number,
                index,
            )
        last = max(last, index)
        if not 0 <= index < size:
            report.add(
                pf.EVIDENCE,
                f"index {index} is outside the checkpoint's tree of size {size}",
                number,
                index,
            )
            continue
        leaf = bytes.fromhex(leaf_hex)
        if multi and index > (indices[-1] if indices else -1):
            indices.append(index)  # proven or not by its leaf hash alone
            leaves += leaf
        body: bytes | None = fast_body
        if body is not None or "entry" in rec:
            if body is None:
                body = pf.b64decode_loose(rec["entry"])  # canonical: the line check below
            if body is None:
                report.add(pf.EVIDENCE, "entry is not standard base64", number, index)
                continue
            if fast_body is None and (
                set(rec) != _FULL_KEYS or pf.evidence_line(index, leaf, body) != raw
            ):
                report.add(
                    pf.EVIDENCE,
                    "line is not the canonical (RFC 8785) {entry, index, leaf_hash} object",
                    number,
                    index,
                )
                continue
            actual = leaf_hash(body)
            if actual != leaf:
                report.add(
                    pf.EVIDENCE,
                    f"entry bytes hash to leaf {actual.hex()}, the line says {leaf_hex}",
                    number,
                    index,
                )
                continue
            if not _check_full(
                body,
                tenant,
                start,
                end,
                index in cited.refs,
                index in cited.site_wide_records,
                number,
                index,
                report,
            ):
                continue
        elif "redacted" in rec:
            if set(rec) != _REDACTED_KEYS or _canonical_line(rec) != raw:
                report.add(
                    pf.EVIDENCE,
                    "line is not the canonical (RFC 8785) {index, leaf_hash, redacted} object",
                    number,
                    index,
                )
                continue
            if tenant is None:
                report.add(pf.EVIDENCE, "a site pack must not hold redacted entries", number, index)
            else:
                _check_redacted(
                    rec["redacted"], tenant, start, end, index in cited.refs, number, index, report
                )
            report.redacted += 1
        else:
            report.add(pf.EVIDENCE, "has neither entry nor redacted", number, index)
            continue
        if multi:
            pending_count += 1
            if index in cited.refs:  # kept only for the citation check
                pending.append((index, leaf_hex, body, rec))
            continue
        if not check_proof(prf, proof_line, index, leaf, paths, number, report):
            continue
        _proven(cited, index, leaf_hex, body, rec)
        report.entries += 1
    if multi and check_multiproof(files, size, root, indices, leaves, report):
        for item in pending:
            _proven(cited, *item)
        report.entries += pending_count
    if manifest.get("entries") != report.entries:
        report.add(
            pf.EVIDENCE,
            f"{report.entries} entries proven, the manifest says {manifest.get('entries')}",
        )
    if manifest.get("redacted") != report.redacted:
        report.add(
            pf.EVIDENCE,
            f"{report.redacted} redacted entries, the manifest says {manifest.get('redacted')}",
        )
    _check_citations(cited, report)


def _proven(
    cited: Cited, index: int, leaf_hex: str, body: bytes | None, rec: dict[str, Any]
) -> None:
    if index in cited.refs:  # kept only for the citation check: a pack may hold millions
        cited.present[index] = leaf_hex
        if index in cited.records:
            if body is not None:
                cited.bodies[index] = body
            else:
                cited.views[index] = rec.get("redacted")


def _check_citations(cited: Cited, report: PackReport) -> None:
    for index, refs in sorted(cited.refs.items()):
        for rid, cited_leaf in refs:
            if index not in cited.present:
                report.add(
                    pf.FINDINGS_JSON,
                    f"finding {rid} cites entry {index}, which the pack does not hold (proven)",
                    index=index,
                )
            elif cited.present[index] != cited_leaf:
                report.add(
                    pf.FINDINGS_JSON,
                    f"finding {rid} cites entry {index} with leaf {cited_leaf}, "
                    f"the pack holds {cited.present[index]}",
                    index=index,
                )


def _zip_longest(
    ev: Iterator[tuple[int, bytes]], pr: Iterator[tuple[int, bytes]], report: PackReport
) -> Iterator[tuple[tuple[int, bytes | None], tuple[int, bytes] | None]]:
    yield from ((item, next(pr, None)) for item in ev)
    for number, _ in pr:
        report.add(pf.PROOFS, "a proof line without an evidence line", number)


def _check_full(
    body: bytes,
    tenant: str | None,
    start: int,
    end: int,
    is_cited: bool,
    site_wide_record: bool,
    number: int,
    index: int,
    report: PackReport,
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
    if tenant is not None:
        scope = entry.get("scope")
        scope = (
            scope if isinstance(scope, list) else ([entry["tenant"]] if entry.get("tenant") else [])
        )
        if scope != [tenant] and not (site_wide_record and scope == []):
            report.add(
                pf.EVIDENCE,
                f"entry in full is scoped to {scope}, expected only [{tenant!r}]",
                number,
                index,
            )
    if not start <= seconds < end and not is_cited:
        report.add(
            pf.EVIDENCE,
            f"entry time {entry.get('time')} is outside the pack's period",
            number,
            index,
        )
    return True


def _check_redacted(
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
