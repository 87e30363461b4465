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

Why each accepted entry is canonical: the line-by-line check (``pack_rules.is_canonical``)
accepts entry bytes that are ASCII, hold no number with a fraction or an exponent (its
``_FLOAT`` pattern finds none) and that ``orjson`` with sorted keys and strict integers writes
back exactly from their parsed value. The batch accepts a piece only when its entries are
ASCII, orjson writes every one back exactly (one call over the piece's values compared with
the entries joined) and either the float pattern can match none of them (a test over the
whole piece that finds every text the pattern would, see ``_FLOAT_TABLE``) or every parsed
value holds only exact dicts, lists, strings, integers, booleans and nulls at most 64
containers deep (no float: then ``edgeaudit.canonical.canonical_json``, the check's other
branch, gives orjson's bytes too). Duplicate members, white space, escapes, a non-canonical
number or key order all change the bytes written back; so do integers beyond 2**53 - 1
(strict integers: orjson refuses them) and non-ASCII keys (refused as non-ASCII bytes).
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice, repeat
from operator import add, and_, itemgetter, lt, methodcaller
from typing import Any, Final

import orjson

from edgeaudit.canonical import types_ok
from edgeaudit.errors import InputError
from edgeaudit.events import parse_utc_time
from edgeaudit.verify.pack_format import full_scope

# a full line as pf.evidence_line writes it, cut at its quotes: ``{``, ``entry``, ``:``, the
# base64 text, ``,``, ``index``, ``:N,``, ``leaf_hash``, ``:``, the hex leaf hash, then ``}\n{``
# (``}\n`` after the last line). Ten fields a line; the text, number and hash are checked below.
_FIELDS: Final = 10
_CONSTANT: Final = (
    (1, b"entry"),
    (2, b":"),
    (4, b","),
    (5, b"index"),
    (7, b"leaf_hash"),
    (8, b":"),
)
# the base64 text's last three characters. Its base64 is canonical (what b2a_base64 writes)
# exactly when: it ends in a character other than "=", or in one "=" after a character whose
# last 2 bits are zero, or in "==" after one whose last 4 bits are; it decodes in strict mode
# (the alphabet, padding only at the end); and its length is a multiple of 4 (no "=" after a
# complete group: Python 3.11's strict mode lets "AAAA=" through). ``tests/verify/
# test_pack_fast_batch.py`` holds this to the round trip for every text of up to 8 characters
# over the characters where it matters.
_TAILS: Final = re.compile(rb"(?:[^=][^=][^=]|[^=][AEIMQUYcgkosw048]=|[AQgw]==)*")
_NUMBERS: Final = re.compile(rb":(?:0|[1-9][0-9]{0,15}),(?:\n:(?:0|[1-9][0-9]{0,15}),)*")
_tail: Final = itemgetter(slice(-3, None))
# A number with a fraction or an exponent (what ``pack_rules._FLOAT``, ``[:,\[]-?[0-9]+[.eE]``,
# finds) leaves ``:.`` once digits and "-" are deleted, "," and "[" read as ":" and "e", "E"
# as ".": no ``:.`` in the translated text, no such number in it.
_FLOAT_TABLE: Final = bytes.maketrans(b",[eE", b"::..")
_DIGITS: Final = b"0123456789-"
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
    ``last``; None when any is not (the caller then checks them one by one).

    The cyclic collector is off meanwhile: the parsed entries hold no cycles (reference counts
    free them) and it would otherwise walk them again and again as they are made."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _full_lines(piece, last, rules)
    finally:
        if collecting:
            gc.enable()


def _full_lines(piece: bytes, last: int, rules: Rules) -> Batch | None:
    fields = piece.split(b'"')
    n, extra = divmod(len(fields) - 1, _FIELDS)
    if extra or not n or fields[0] != b"{" or fields[-1] != b"}\n":
        return None
    if fields[_FIELDS:-1:_FIELDS].count(b"}\n{") != n - 1:
        return None
    for at, constant in _CONSTANT:
        if fields[at::_FIELDS].count(constant) != n:
            return None
    # every field in its place: the piece is n lines {"entry":"T","index":N,"leaf_hash":"H"}\n
    # with T, N and H free of quotes, checked now
    texts, numbers, hexes = fields[3::_FIELDS], fields[6::_FIELDS], fields[9::_FIELDS]
    try:
        joined = b"\n".join(numbers)  # each :N, with N canonical and no newline inside
        if not _NUMBERS.fullmatch(joined) or joined.count(b"\n") != n - 1:
            return None
        indices = list(map(int, joined[1:-1].split(b",\n:")))
        if indices[0] <= last or indices[-1] >= rules.size:
            return None
        if not all(map(lt, indices, islice(indices, 1, None))):
            return None
        if set(map(len, hexes)) != {64}:
            return None
        hex_text = b"".join(hexes).decode("ascii")
        leaves = bytes.fromhex(hex_text)
        if leaves.hex() != hex_text:  # lower case only, no white space
            return None
        if not whole_groups(texts) or not _TAILS.fullmatch(b"".join(map(_tail, texts))):
            return None  # not the canonical base64 of what it decodes to (if it decodes)
        bodies = list(map(_a2b, texts))
        hashed = map(_digest, map(hashlib.sha256, map(add, repeat(_LEAF_PREFIX), bodies)))
        if b"".join(hashed) != leaves:
            return None
        values = list(map(orjson.loads, bodies))
        if set(map(type, values)) != {dict}:
            return None
        text = b",".join(bodies)
        if not text.isascii():
            return None
        if b":." in text.translate(_FLOAT_TABLE, _DIGITS) and not plain_objects(values):
            return None
        # each body an object, so the joined texts can only be equal body by body
        written = _dumps(values)
        if len(written) != len(text) + 2 or not written.startswith(text, 1):
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


def whole_groups(texts: Sequence[bytes]) -> bool:
    """Whether every base64 text is a whole number of 4-character groups, at least one: with
    strict decoding and the rule of its last characters (``_TAILS``), exactly the texts that
    ``b2a_base64`` writes (no "=" after a complete group, none missing)."""
    lengths = list(map(len, texts))
    return min(lengths) >= 4 and not any(map(and_, lengths, repeat(3)))


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
