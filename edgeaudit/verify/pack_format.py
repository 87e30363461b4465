"""The audit pack's file names and byte rules, shared by the builder and the offline verifier.

Pure: no I/O, no signing, no database. ``docs/pack-format.md`` is the specification.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

FORMAT: Final = "edgeaudit-pack/2"  # what pack build writes: one multi-proof
FORMAT_V1: Final = "edgeaudit-pack/1"  # per-entry proofs; verify still reads it
FORMAT_V3: Final = "edgeaudit-pack/3"  # a campus pack: the central log and one part per pod
FORMATS: Final = (FORMAT, FORMAT_V1, FORMAT_V3)
JWS_TYPE: Final = "edgeaudit-pack-manifest+json"
ALGORITHMS: Final = ("ES256",)  # the only JWS algorithm a pack may use (explicit allow-list)

MANIFEST: Final = "manifest.json"
MANIFEST_JWS: Final = "manifest.jws"
CHECKPOINT: Final = "checkpoint"
EVIDENCE: Final = "evidence.jsonl"
PROOFS: Final = "proofs.jsonl"
CONSISTENCY: Final = "consistency.json"
CONSISTENCY_LOG: Final = "consistency.jsonl"  # from every earlier checkpoint the log signed
FINDINGS_JSON: Final = "findings.json"
FINDINGS_CSV: Final = "findings.csv"
OSCAL: Final = "oscal-assessment-results.json"
REPORT: Final = "report.pdf"

SIGNATURE_FILES: Final = frozenset({MANIFEST, MANIFEST_JWS})  # the only files not in the list
REQUIRED: Final = (CHECKPOINT, EVIDENCE, PROOFS)
ASSESSMENT_FILES: Final = (FINDINGS_JSON, FINDINGS_CSV, OSCAL)  # all three or none
# every file the manifest may list: the format's files, nothing else
LISTED: Final = frozenset({*REQUIRED, CONSISTENCY, CONSISTENCY_LOG, *ASSESSMENT_FILES, REPORT})
# a campus pack (edgeaudit-pack/3): part k's files are ``p<k>.<name>`` for these names, k
# decimal without leading zeros, 1 <= k <= len(manifest ``logs``)
PART_FILES: Final = (CHECKPOINT, EVIDENCE, PROOFS, CONSISTENCY, CONSISTENCY_LOG)
PART_REQUIRED: Final = (CHECKPOINT, EVIDENCE, PROOFS)
# the members of each item of a campus manifest's ``logs``, and of its ``checkpoint``
PART_KEYS: Final = frozenset(
    {"part", "origin", "site", "checkpoint", "verifier_key", "entries", "redacted"}
)
CHECKPOINT_KEYS: Final = frozenset({"tree_size", "root_hash"})
REDACTED_VIEW: Final = frozenset({"kind", "outcome", "scope", "time"})  # members it may have
FINDINGS_CSV_COLUMNS: Final = (
    "id",
    "rule",
    "status",
    "severity",
    "title",
    "controls",
    "tenant",
    "asset",
    "principal",
    "segment",
    "key",
    "evidence",
    "reason",
)
# a campus pack's CSV: ``log`` (the result's scope.log, for a per-log rule) after ``key``
FINDINGS_CSV_COLUMNS_V3: Final = (*FINDINGS_CSV_COLUMNS[:11], "log", *FINDINGS_CSV_COLUMNS[11:])
HASH_HEX: Final = re.compile(r"[0-9a-f]{64}")

# Findings bound to the log: each result of findings.json names its ``policy.result`` entry
# (``record``), and these members of the result must equal that entry's ``result`` ...
RESULT_BOUND: Final = ("id", "rule", "status", "scope", "controls", "evidence")
# ... and these members of findings.json's ``assessment``, the entry's ``assessment`` header
ASSESSMENT_BOUND: Final = (
    "id",
    "from",
    "to",
    "tree_size",
    "engine",
    "rules_version",
    "policy_digest",
    "policy_files",
    "site_wide_rules",
    "checkpoint",
    "logs",  # a campus assessment's judged logs (only a campus record has it)
    "coverage",  # and how much of each pod's evidence of the period it held
)
RECORD_KIND: Final = "policy.result"
# a policy.result entry's outcome by the result's status (what a redacted view still shows)
RECORD_OUTCOME: Final = {"pass": "success", "fail": "failure"}
OSCAL_NS: Final = "https://edgeaudit.dev/ns/oscal"
_TOKEN_BAD: Final = re.compile(r"[^A-Za-z0-9._-]")


def part_name(k: int) -> str:
    """The part name of the k-th item of a campus manifest's ``logs`` (1-based): ``p<k>``."""
    return f"p{k}"


def part_files(parts: int) -> frozenset[str]:
    """Every file name the parts of a campus pack of ``parts`` pod logs may use."""
    return frozenset(f"{part_name(k)}.{n}" for k in range(1, parts + 1) for n in PART_FILES)


def split_ref(token: str) -> tuple[str, int] | None:
    """``ORIGIN#INDEX`` (a campus citation as text) split at the last ``#``: the index is all
    digits (no sign, no leading zero), the origin non-empty; None otherwise."""
    origin, sep, index = token.rpartition("#")
    if not sep or not origin or not re.fullmatch(r"0|[1-9][0-9]*", index):
        return None
    return origin, int(index)


def control_token(control: str) -> str:
    """``iso27001-2022:a.8.2`` -> ``iso27001-2022-a.8.2`` (an OSCAL token)."""
    token = _TOKEN_BAD.sub("-", control.replace(":", "-"))
    return token if token[:1].isalpha() else f"c-{token}"


HASH_SIZE: Final = 32


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: object) -> bytes | None:
    """Standard base64 with padding, nothing else (None when ``text`` is not that)."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def b64decode_loose(text: object) -> bytes | None:
    """Base64 without characters outside the alphabet or misplaced padding (None otherwise),
    for a line whose canonical form the caller then compares byte for byte: that comparison
    re-encodes the bytes, so a second encoding of them (non-zero padding bits) fails there."""
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def split_hashes(blob: bytes) -> list[bytes] | None:
    """A proof's concatenated 32-byte hashes, or None when the length is not a multiple."""
    if len(blob) % HASH_SIZE:
        return None
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def evidence_line(index: int, leaf: bytes, body: bytes) -> bytes:
    """One full ``evidence.jsonl`` line: the RFC 8785 form of ``{"entry", "index",
    "leaf_hash"}`` (members sorted, no white space; base64 and hex need no escaping), written
    directly because it runs once per entry. ``tests/pack/test_units.py`` checks it against
    :func:`edgeaudit.canonical.canonical_json`."""
    return b'{"entry":"%s","index":%d,"leaf_hash":"%s"}\n' % (
        binascii.b2a_base64(body, newline=False),
        index,
        leaf.hex().encode("ascii"),
    )


def proof_line(index: int, proof: bytes) -> bytes:
    """One ``proofs.jsonl`` line, the RFC 8785 form of ``{"index", "proof"}`` (see above)."""
    return b'{"index":%d,"proof":"%s"}\n' % (index, binascii.b2a_base64(proof, newline=False))


def multiproof_line(proof: bytes) -> bytes:
    """The one ``proofs.jsonl`` line of an ``edgeaudit-pack/2`` pack: ``{"proof"}``, the
    multi-proof's hashes concatenated, in base64 (RFC 8785 form)."""
    return b'{"proof":"%s"}\n' % binascii.b2a_base64(proof, newline=False)


def full_scope(entry: dict[str, Any]) -> Any:
    """The tenants a full entry concerns: its ``scope`` list, else ``[tenant]`` when it names
    one, else ``[]`` (docs/pack-format.md, "Tenant rules")."""
    scope = entry.get("scope")
    if isinstance(scope, list):
        return scope
    return [entry["tenant"]] if entry.get("tenant") else []
