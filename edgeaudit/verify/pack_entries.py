"""``evidence.jsonl`` and ``proofs.jsonl`` of an audit pack: every line canonical, every entry
proven, the tenant rules held (docs/pack-format.md, "evidence.jsonl" and "Tenant rules").

Verify side: no signing code, no database, no PDF renderer.
"""

from __future__ import annotations

import binascii
import io
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.errors import CanonicalError, InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify import pack_helper
from edgeaudit.verify.pack_batch import Rules, full_lines
from edgeaudit.verify.pack_files import PackFiles, PackReport, chunks, lines
from edgeaudit.verify.pack_paths import (
    InclusionPaths,
    check_multiproof,
    check_proof,
    json_line,
)
from edgeaudit.verify.pack_rules import check_full, check_redacted

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
    period = manifest.get("period") or {}
    try:
        start_text, start = parse_utc_time(period.get("from"))
        end_text, end = parse_utc_time(period.get("to"))
    except InputError as exc:
        report.add(pf.MANIFEST, f"period: {exc}")
        return
    rules = Rules(
        size,
        manifest.get("tenant"),
        start,
        end,
        start_text[:19],
        end_text[:19],
        frozenset(cited.refs),
        frozenset(cited.site_wide_records),
    )
    # edgeaudit-pack/2: one multi-proof for all entries, checked after the last line; until
    # then an entry is only pending (its index and leaf hash gathered for the proof)
    multi = manifest.get("format") != pf.FORMAT_V1
    check = _Lines(rules, root, cited, report, multi)
    if multi:
        _check_v2(files, rules, check)
    else:
        report.warnings.append(
            f"{pf.FORMAT_V1} pack (the older format, an inclusion proof per entry), verified "
            f"by its rules; pack build writes {pf.FORMAT}: a pack of a new period in the older "
            "format is a downgrade to question"
        )
        evidence = lines(files, pf.EVIDENCE)
        for (number, raw), proof_line in _zip_longest(evidence, lines(files, pf.PROOFS), report):
            check.line(number, raw, proof_line)
    if multi and check_multiproof(files, size, root, check.indices, check.leaves, report):
        for item in check.pending:
            _proven(cited, *item)
        report.entries += check.pending_count
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


def _check_v2(files: PackFiles, rules: Rules, check: _Lines) -> None:
    """``evidence.jsonl`` of an ``edgeaudit-pack/2`` pack, a piece at a time: at once while
    every line of a piece is a full entry that passes (edgeaudit.verify.pack_batch), else line
    by line; on a large pack with a CPU to spare, the second half by a helper process
    (edgeaudit.verify.pack_helper) unless it finds a line to look at here."""
    helper = pack_helper.start(files, files.member(pf.EVIDENCE), files.size(pf.EVIDENCE), rules)
    try:
        split = helper.split if helper is not None else None
        for first, piece in chunks(files, pf.EVIDENCE, split):
            if piece is None:  # the split point: what follows is the helper's
                answer = helper.answer() if helper is not None else None
                if answer is not None and (not answer.indices or answer.indices[0] > check.last):
                    check.take_all(answer.indices, answer.leaves, answer.cited)
                    return
                continue
            batch = full_lines(piece, check.last, rules)
            if batch is not None:
                check.take_all(batch.indices, batch.leaves, batch.cited)
                continue
            for number, raw in enumerate(io.BytesIO(piece), first):  # splits as lines() does
                check.line(number, raw, None)
    finally:
        if helper is not None:
            helper.close()


class _Lines:
    """The line-by-line check of ``evidence.jsonl`` (and of ``proofs.jsonl`` in
    ``edgeaudit-pack/1``), with what it carries from line to line."""

    def __init__(
        self, rules: Rules, root: bytes, cited: Cited, report: PackReport, multi: bool
    ) -> None:
        self.rules, self.cited, self.report, self.multi = rules, cited, report, multi
        self.last = -1
        self.paths = InclusionPaths(rules.size, root)
        self.indices: array[int] = array("q")
        self.leaves = bytearray()
        self.pending: list[tuple[int, str, bytes | None, dict[str, Any]]] = []
        self.pending_count = 0

    def take_all(
        self, indices: Sequence[int], leaves: bytes, cited: list[tuple[int, str, bytes]]
    ) -> None:
        """Full lines that passed every check at once (edgeaudit.verify.pack_batch): their
        ascending indices, above ``last``, leaf hashes and cited entries."""
        if not indices:
            return
        self.indices.extend(indices)
        self.leaves += leaves
        self.pending.extend((i, h, body, _NO_MEMBERS) for i, h, body in cited)
        self.pending_count += len(indices)
        self.last = indices[-1]

    def line(self, number: int, raw: bytes | None, proof_line: tuple[int, bytes] | None) -> None:
        report, cited, rules = self.report, self.cited, self.rules
        size, multi = rules.size, self.multi
        rec: dict[str, Any] | None
        index: Any
        leaf_hex: Any
        fast = _FULL_LINE.fullmatch(raw) if raw is not None else None
        fast_body = _canonical_base64(fast[1]) if fast is not None else None
        if fast is not None and fast_body is not None:
            # the canonical {entry, index, leaf_hash} line, read without a JSON parser
            rec, index, leaf_hex = _NO_MEMBERS, int(fast[2]), fast[3].decode("ascii")
        else:
            fast_body = None
            rec = json_line(report, pf.EVIDENCE, number, raw) if raw is not None else None
            if rec is None:
                return
            index, leaf_hex = rec.get("index"), rec.get("leaf_hash")
        prf = json_line(report, pf.PROOFS, proof_line[0], proof_line[1]) if proof_line else None
        if fast_body is None and (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not isinstance(leaf_hex, str)
            or not pf.HASH_HEX.fullmatch(leaf_hex)
        ):
            report.add(pf.EVIDENCE, "needs an integer index and a 64-hex leaf_hash", number)
            return
        if index <= self.last:
            report.add(
                pf.EVIDENCE,
                f"index {index} does not follow {self.last} (entries must ascend)",
                number,
                index,
            )
        self.last = max(self.last, index)
        if not 0 <= index < size:
            report.add(
                pf.EVIDENCE,
                f"index {index} is outside the checkpoint's tree of size {size}",
                number,
                index,
            )
            return
        leaf = bytes.fromhex(leaf_hex)
        if multi and index > (self.indices[-1] if self.indices else -1):
            self.indices.append(index)  # proven or not by its leaf hash alone
            self.leaves += leaf
        body: bytes | None = fast_body
        if body is not None or "entry" in rec:
            if body is None:
                body = pf.b64decode_loose(rec["entry"])  # canonical: the line check below
            if body is None:
                report.add(pf.EVIDENCE, "entry is not standard base64", number, index)
                return
            if fast_body is None and (
                set(rec) != _FULL_KEYS or pf.evidence_line(index, leaf, body) != raw
            ):
                report.add(
                    pf.EVIDENCE,
                    "line is not the canonical (RFC 8785) {entry, index, leaf_hash} object",
                    number,
                    index,
                )
                return
            actual = leaf_hash(body)
            if actual != leaf:
                report.add(
                    pf.EVIDENCE,
                    f"entry bytes hash to leaf {actual.hex()}, the line says {leaf_hex}",
                    number,
                    index,
                )
                return
            if not check_full(body, rules, index in cited.refs, number, index, report):
                return
        elif "redacted" in rec:
            if set(rec) != _REDACTED_KEYS or _canonical_line(rec) != raw:
                report.add(
                    pf.EVIDENCE,
                    "line is not the canonical (RFC 8785) {index, leaf_hash, redacted} object",
                    number,
                    index,
                )
                return
            if rules.tenant is None:
                report.add(pf.EVIDENCE, "a site pack must not hold redacted entries", number, index)
            else:
                check_redacted(
                    rec["redacted"],
                    rules.tenant,
                    rules.start,
                    rules.end,
                    index in cited.refs,
                    number,
                    index,
                    report,
                )
            report.redacted += 1
        else:
            report.add(pf.EVIDENCE, "has neither entry nor redacted", number, index)
            return
        if multi:
            self.pending_count += 1
            if index in cited.refs:  # kept only for the citation check
                self.pending.append((index, leaf_hex, body, rec))
            return
        if not check_proof(prf, proof_line, index, leaf, self.paths, number, report):
            return
        _proven(cited, index, leaf_hex, body, rec)
        report.entries += 1


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
