"""Every byte that edgeaudit hashes or signs is produced here, and nowhere else.

* entries: RFC 8785 (JCS) canonical JSON;
* the log: RFC 6962 leaf and node hashes, and the edgeaudit hash chain;
* the dedupe key of an entry (fingerprint key);
* C2SP tlog-checkpoint bodies, signed-note key ids, verifier keys, signature lines, notes,
  and tlog-cosignature messages.

Parsing and verifying live elsewhere (``edgeaudit.note``, ``edgeaudit.merkle``); they call the
builders here so that what is checked is byte-for-byte what was signed.

Canonical JSON has two encoders. ``orjson`` with sorted keys is byte-identical to RFC 8785 only
for a restricted value set (exact ``dict``/``list``/``str``/``bool``/``None`` and ``int`` within
±(2**53 - 1), object keys below U+E000); :func:`canonical_json` checks that a value lies in that
set and otherwise routes it to the exact ``rfc8785`` encoder, which rejects what JCS cannot
represent. ``tests/test_canonical.py`` proves the identity with differential property tests.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Final

import orjson
import rfc8785

from edgeaudit.errors import CanonicalError, InputError

HASH_SIZE: Final = 32
MAX_SAFE_INTEGER: Final = 2**53 - 1
_MAX_DEPTH: Final = 64

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
CHAIN_TAG: Final = b"edgeaudit/chain/v1\x00"
GENESIS_CHAIN: Final = bytes(HASH_SIZE)
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
_FP_TAG: Final = b"edgeaudit/fingerprint/v1\x00"

_ORJSON_OPTS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_sha256: Final = hashlib.sha256

# ---------------------------------------------------------------------------------------------
# Canonical JSON (RFC 8785)


def canonical_json(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`CanonicalError` naming the offending field when ``value`` has no canonical
    form (NaN/infinite floats, integers beyond ±(2**53 - 1), non-string keys, lone surrogates,
    or types JSON does not have, such as datetimes, bytes and sets).
    """
    if _fast_path_ok(value, 0):
        try:
            return orjson.dumps(value, option=_ORJSON_OPTS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: let the exact encoder explain
    try:
        return bytes(rfc8785.dumps(value))  # type: ignore[arg-type]
    except RecursionError as exc:
        # _describe_problem would recurse just as deep: answer without it.
        raise CanonicalError(
            "field $: nested deeper than the interpreter stack allows, or a reference cycle"
        ) from exc
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        try:
            problem = _describe_problem(value, "$")
        except RecursionError:
            problem = None
        raise CanonicalError(problem or f"not canonicalizable: {exc}") from exc


def _fast_path_ok(value: object, depth: int) -> bool:
    """True when orjson(sort_keys) is proven byte-identical to RFC 8785 for ``value``.

    Exact ``dict``/``list``/``str``/``bool``/``None`` and ``int`` within ±(2**53 - 1), at most
    ``_MAX_DEPTH`` containers deep; object keys are exact ``str`` without characters at or above
    U+E000, where code-point order (orjson's) and UTF-16 order (JCS's) agree. Scalar members are
    checked inline rather than by a call each, which halves the cost on a flat event.
    """
    if type(value) is dict:
        if depth >= _MAX_DEPTH:
            return False
        for k, v in value.items():
            if type(k) is not str or not (k.isascii() or max(k) < "\ue000"):
                return False
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    continue
                return False
            if not _fast_path_ok(v, depth + 1):
                return False
        return True
    if type(value) is list:
        if depth >= _MAX_DEPTH:
            return False
        for v in value:
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            if t is int:
                if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                    continue
                return False
            if not _fast_path_ok(v, depth + 1):
                return False
        return True
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    t = type(value)
    return t is str or t is bool or value is None


def canonical_json_fast(value: object) -> bytes:
    """Exactly :func:`canonical_json` (same bytes, same errors), cheaper on collector records.

    The guard here checks value types only. The two other conditions of the fast path are
    checked by what orjson does anyway: ``OPT_STRICT_INTEGER`` makes it refuse integers beyond
    ±(2**53 - 1), and when its output is ASCII no key can hold a character at or above U+E000.
    Anything else (a refusal, non-ASCII output, another type) goes to :func:`canonical_json`.
    ``tests/collect/test_canonical_fast.py`` proves the identity differentially.
    """
    if type(value) is dict and _types_ok(value, 0):
        try:
            out = orjson.dumps(value, option=_ORJSON_OPTS)
        except orjson.JSONEncodeError:
            return canonical_json(value)
        if out.isascii():
            return out
    return canonical_json(value)


def canonical_json_plain(value: object) -> bytes:
    """:func:`canonical_json_fast` for a value whose types the caller has already checked as
    :func:`_types_ok` does (``edgeaudit.events.prepare_plain`` walks ``orjson.loads``'s value
    once for its own reasons): the same bytes, the same errors, without a second walk."""
    try:
        out = orjson.dumps(value, option=_ORJSON_OPTS)
    except orjson.JSONEncodeError:
        return canonical_json(value)
    return out if out.isascii() else canonical_json(value)


def _types_ok(value: dict[object, object] | list[object], depth: int) -> bool:
    """Exact dict/list containers (at most ``_MAX_DEPTH`` deep) with exact ``str`` keys and
    exact str/int/bool/None leaves: the types on which orjson and RFC 8785 agree."""
    if depth >= _MAX_DEPTH:
        return False
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str:
                return False
            t = type(v)
            if t is str or t is int or t is bool or v is None:
                continue
            if (t is dict or t is list) and _types_ok(v, depth + 1):  # type: ignore[arg-type]
                continue
            return False
        return True
    for v in value:
        t = type(v)
        if t is str or t is int or t is bool or v is None:
            continue
        if (t is dict or t is list) and _types_ok(v, depth + 1):  # type: ignore[arg-type]
            continue
        return False
    return True


def _describe_problem(value: object, path: str) -> str | None:
    """Find the first value below ``path`` that JCS cannot encode and say why."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"field {path}: string contains a lone surrogate (not valid Unicode)"
        return None
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            return f"field {path}: integer {value} is outside ±(2**53-1) and cannot be exact JSON"
        return None
    if isinstance(value, float):
        if value != value:
            return f"field {path}: NaN is not a JSON number"
        if value in (float("inf"), float("-inf")):
            return f"field {path}: {value!r} (infinity, or a number too large) is not a JSON number"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"field {path}: object key {k!r} is not a string"
            problem = _describe_problem(k, f"{path}.<key>") or _describe_problem(v, f"{path}.{k}")
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            problem = _describe_problem(v, f"{path}[{i}]")
            if problem:
                return problem
        return None
    return f"field {path}: type {type(value).__name__} is not a JSON value"


# ---------------------------------------------------------------------------------------------
# The log: RFC 6962 / RFC 9162 hashes and the hash chain


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """chain(n) = SHA-256(tag || chain(n-1) || leaf(n)); chain(-1) is :data:`GENESIS_CHAIN`."""
    return hashlib.sha256(CHAIN_TAG + previous + leaf).digest()


def entry_hashes(previous: bytes, entry: bytes) -> tuple[bytes, bytes]:
    """(leaf hash, chain hash) of an entry following ``previous``: the verifier's hot path."""
    leaf = _sha256(LEAF_PREFIX + entry).digest()
    return leaf, _sha256(CHAIN_TAG + previous + leaf).digest()


def fingerprint_key(time_seconds: int, fingerprint: str | None, leaf: bytes) -> bytes:
    """The dedupe key of an entry: 8-byte time (sortable) || 32-byte fingerprint digest.

    The time prefix keeps index inserts local when events arrive roughly in time order (a
    random key made 1 M appends 2.4x slower, see docs/adr/0004). Without an explicit
    fingerprint the leaf hash identifies the entry.
    """
    prefix = (time_seconds + 2**63).to_bytes(8, "big")
    if fingerprint is None:
        return prefix + leaf
    return prefix + hashlib.sha256(_FP_TAG + fingerprint.encode("utf-8")).digest()


# ---------------------------------------------------------------------------------------------
# C2SP tlog-checkpoint, signed-note and tlog-cosignature

SIG_ED25519: Final = 0x01
SIG_COSIGNATURE_V1: Final = 0x04
SIG_ML_DSA_44: Final = 0x06
EM_DASH: Final = "\u2014"


def _check_name(kind: str, name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise InputError(f"{kind} {name!r} must be non-empty, without spaces or '+'")


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> bytes:
    """The C2SP tlog-checkpoint body: origin, decimal size, base64 root, optional extensions."""
    _check_name("origin", origin)
    if size < 0:
        raise InputError(f"tree size must not be negative, got {size}")
    if len(root) != HASH_SIZE:
        raise InputError(f"root hash must be {HASH_SIZE} bytes, got {len(root)}")
    lines = [origin, str(size), base64.b64encode(root).decode("ascii")]
    for ext in extensions:
        if not ext or "\n" in ext or not ext.isprintable():
            raise InputError(f"checkpoint extension line {ext!r} must be non-empty printable text")
        lines.append(ext)
    return ("\n".join(lines) + "\n").encode("utf-8")


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """Signed-note key id: first 4 bytes of SHA-256(name || 0x0A || type || public key)."""
    _check_name("key name", name)
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key)
    return digest.digest()[:4]


def verifier_key(name: str, signature_type: int, public_key: bytes) -> str:
    """The C2SP verifier key string ``<name>+<hex key id>+<base64(type || public key)>``."""
    kid = key_id(name, signature_type, public_key)
    encoded = base64.b64encode(bytes([signature_type]) + public_key).decode("ascii")
    return f"{name}+{kid.hex()}+{encoded}"


def signature_line(name: str, kid: bytes, signature: bytes) -> str:
    """One signed-note signature line, ``— <name> <base64(key id || signature)>`` + newline."""
    _check_name("key name", name)
    if len(kid) != 4:
        raise InputError(f"key id must be 4 bytes, got {len(kid)}")
    return f"{EM_DASH} {name} {base64.b64encode(kid + signature).decode('ascii')}\n"


def signed_note(body: bytes, signature_lines: Sequence[str]) -> bytes:
    """A signed note: the body text, an empty line, then the signature lines."""
    if not body.endswith(b"\n"):
        raise InputError("note body must end with a newline")
    if not signature_lines:
        raise InputError("a signed note needs at least one signature line")
    return body + b"\n" + "".join(signature_lines).encode("utf-8")


def cosignature_message(timestamp: int, body: bytes) -> bytes:
    """What a C2SP tlog-cosignature/v1 witness signs: header lines then the checkpoint body."""
    if not 0 <= timestamp <= 2**63 - 1:
        raise InputError(f"cosignature timestamp must be in 0..2**63-1, got {timestamp}")
    return b"cosignature/v1\ntime %d\n" % timestamp + body


def files_digest(files: Sequence[tuple[str, bytes]]) -> str:
    """SHA-256 (hex) over named files, each as length-prefixed name and content, in name order:
    the digest of the policy files an assessment judged by."""
    h = hashlib.sha256()
    for name, data in sorted(files):
        raw = name.encode()
        h.update(len(raw).to_bytes(4, "big") + raw + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def result_id(rule: str, scope: Sequence[tuple[str, str]]) -> str:
    """Stable id of a policy result (rule x scope), whatever its status: ``R-`` + 16 hex digits
    of SHA-256. (Assessments before 2026-12 wrote the same digits after ``F-``.)"""
    key = rule + "\x00" + "\x00".join(f"{k}={v}" for k, v in scope)
    return "R-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def types_ok(value: dict[object, object] | list[object]) -> bool:
    """Whether ``value`` holds only the types on which orjson and RFC 8785 agree (exact dict and
    list containers at most ``_MAX_DEPTH`` deep, exact ``str`` keys, exact str, int, bool and
    None leaves): the guard of :func:`canonical_json_fast`, for a caller that compares orjson's
    bytes itself (a verifier checking many entries at once)."""
    return _types_ok(value, 0)
