"""Many full ``evidence.jsonl`` lines checked at once: the common case of a pack, made cheap.

:func:`full_lines` takes a piece of the file (whole lines) and answers only when *every* line
in it is the canonical ``{"entry", "index", "leaf_hash"}`` object of an entry that passes every
rule the line-by-line check (``edgeaudit.verify.pack_entries``) applies to a full entry: the
canonical line and base64, ascending indices inside the tree, the leaf hash of the entry bytes,
an event object whose bytes are its RFC 8785 form, a valid UTC time in the pack's period (or a
cited entry), and in a tenant pack the tenant's scope. Then its answer carries what that check
would have gathered (indices, leaf hashes, the cited entries). Anything else, and it answers
``None`` and the caller checks the piece line by line, which names each problem. So this path
accepts nothing the line-by-line check refuses; it only does the same work in fewer, larger
steps (each over every line of the piece instead of one call per line and rule).

Why each accepted entry is canonical: its bytes are ASCII, its parsed value holds only exact
dicts, lists, strings, integers, booleans and nulls at most 64 containers deep (no float), and
``orjson`` with sorted keys and strict integers writes exactly those bytes back. For such a
value ``edgeaudit.canonical.canonical_json`` gives those same bytes (its orjson path, taken
for these types, safe integers and keys below U+E000), so the line-by-line check, which compares
the bytes with that form, accepts it too. Duplicate members, white space, other escapes, a
non-canonical number or key order all change the bytes written back.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice, repeat
from operator import add, floordiv, lt, methodcaller, mul
from typing import Any, Final

import orjson

from edgeaudit.canonical import types_ok
from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.verify.pack_format import full_scope

# a full line as pf.evidence_line writes it. Its base64 is canonical (what b2a_base64 writes)
# exactly when: it ends in a character other than "=", or in one "=" after a character whose
# last 2 bits are zero, or in "==" after one whose last 4 bits are; it decodes in strict mode
# (the alphabet, padding only at the end); and its length is 4 * ceil(decoded length / 3) (no
# "=" after a complete group). ``tests/verify/test_pack_fast_batch.py`` holds this to the
# round trip for every text of up to 7 characters over the characters where it matters.
_LINE: Final = re.compile(
    rb'\{"entry":"([^"]*(?:[AEIMQUYcgkosw048]=|[AQgw]==|[^="]))",'
    rb'"index":(0|[1-9][0-9]{0,15}),"leaf_hash":"([0-9a-f]{64})"\}\n'
)
_LINE_FIXED: Final = len(b'{"entry":"","index":,"leaf_hash":""}\n') + 64
_a2b: Final = partial(binascii.a2b_base64, strict_mode=True)
_dumps: Final = partial(orjson.dumps, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
_digest: Final = methodcaller("digest")
_time: Final = methodcaller("get", "time")
_LEAF_PREFIX: Final = b"\x00"
_UTC_SECOND: Final = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?Z"
)
_UTC_SECONDS: Final = re.compile(f"{_UTC_SECOND}(?:\n{_UTC_SECOND})*")
_BAD_ERRORS: Final = (binascii.Error, ValueError, TypeError, InputError)


@dataclass(frozen=True, slots=True)
class Rules:
    """What a full entry is checked against: the tree size, the pack's tenant (None: a site
    pack) and period ``[start, end)`` in epoch seconds (and as ``YYYY-MM-DDTHH:MM:SS``
    texts), the cited indices (allowed outside the period) and the record indices of
    site-wide results (allowed an empty scope)."""

    size: int
    tenant: str | None
    start: int
    end: int
    start_text: str  # the period's bounds as parse_utc_time normalizes them, to the second
    end_text: str
    cited: frozenset[int]
    site_wide: frozenset[int]


@dataclass(frozen=True, slots=True)
class Batch:
    """Full lines that passed every rule: their indices (ascending), leaf hashes (32 bytes
    each, in order) and the cited ones among them as (index, leaf hash hex, entry bytes)."""

    indices: list[int]
    leaves: bytes
    cited: list[tuple[int, str, bytes]]


def full_lines(piece: bytes, last: int, rules: Rules) -> Batch | None:
    """The lines of ``piece`` if every one is a full entry passing every rule, its index above
    ``last``; None when any is not (the caller then checks them one by one)."""
    found = _LINE.findall(piece)
    if not found:
        return None
    texts, numbers, hexes = zip(*found, strict=True)
    # the matches do not overlap: covering the piece's length, they are all of its lines
    if len(found) * _LINE_FIXED + sum(map(len, texts)) + sum(map(len, numbers)) != len(piece):
        return None
    try:
        bodies = list(map(_a2b, texts))
        if not whole_groups(texts, bodies):
            return None  # "=" beyond the last group: not the canonical encoding
        indices = list(map(int, numbers))
        if indices[0] <= last or indices[-1] >= rules.size:
            return None
        if not all(map(lt, indices, islice(indices, 1, None))):
            return None
        leaves = bytes.fromhex(b"".join(hexes).decode("ascii"))
        hashed = map(_digest, map(hashlib.sha256, map(add, repeat(_LEAF_PREFIX), bodies)))
        if b"".join(hashed) != leaves:
            return None
        values = list(map(orjson.loads, bodies))
        if not all(map(bytes.isascii, bodies)) or not plain_objects(values):
            return None
        # each body an object, so the joined texts can only be equal body by body
        if _dumps(values) != b"[" + b",".join(bodies) + b"]":
            return None
        if not _in_period(indices, list(map(_time, values)), rules):
            return None
    except (*_BAD_ERRORS, orjson.JSONEncodeError):
        return None
    if rules.tenant is not None:
        tenant, site_wide = [rules.tenant], rules.site_wide
        for index, value in zip(indices, values, strict=True):
            scope = full_scope(value)
            if scope != tenant and not (scope == [] and index in site_wide):
                return None
    cited = []
    for index in sorted(rules.cited.intersection(indices)):
        at = bisect_left(indices, index)
        cited.append((index, hexes[at].decode("ascii"), bodies[at]))
    return Batch(indices, leaves, cited)


def whole_groups(texts: Sequence[bytes], bodies: Sequence[bytes]) -> bool:
    """Whether each base64 text is exactly as long as the encoding of its decoded bytes
    (4 characters per group of 3 bytes or fewer): no padding after a complete group."""
    groups = map(floordiv, map(add, map(len, bodies), repeat(2)), repeat(3))
    return list(map(len, texts)) == list(map(mul, groups, repeat(4)))


def _in_period(indices: list[int], times: list[Any], rules: Rules) -> bool:
    """Every time a valid UTC time, in the period unless its entry is cited.

    The common case in bulk: every time written ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` with a
    valid time of day (one pattern over all of them), each of their dates valid (there are
    few), and the earliest and latest within the period. For such texts the order of their
    first 19 characters is the order of the epoch seconds ``parse_utc_time`` gives them, and
    the period's bounds are compared the same way (their normalized texts). Anything else,
    time by time with ``parse_utc_time``."""
    try:
        joined = "\n".join(times)
    except TypeError:  # a time that is not a string: parse_utc_time refuses it below
        joined = None
    if (
        joined is not None
        and _UTC_SECONDS.fullmatch(joined)
        and joined.count("\n") == len(times) - 1
    ):
        lo, hi = min(times), max(times)
        dates = {lo[:10]} if lo[:10] == hi[:10] else {t[:10] for t in times}
        for date in dates:
            parse_utc_time(f"{date}T00:00:00Z")  # InputError: a date that does not exist
        if rules.start_text <= lo[:19] and hi[:19] < rules.end_text:
            return True
    inside = {}
    for text in set(times):
        seconds = parse_utc_time(text)[1]
        inside[text] = rules.start <= seconds < rules.end
    if all(inside.values()):
        return True
    cited = rules.cited
    return all(i in cited for i, t in zip(indices, times, strict=True) if not inside[t])


def plain_objects(values: list[Any]) -> bool:
    """Whether every value is a dict holding only what ``edgeaudit.canonical``'s orjson path
    takes (exact dicts and lists at most 64 containers deep, ``str`` keys, str, int, bool and
    None leaves: no float)."""
    return not set(map(type, values)) - {dict} and all(map(types_ok, values))
