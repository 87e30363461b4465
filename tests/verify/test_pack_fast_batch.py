"""The batch check of full ``evidence.jsonl`` lines (edgeaudit.verify.pack_batch) against the
line-by-line check it stands in for (edgeaudit.verify.pack_entries), on the same pieces.

Hypothesis builds pieces of canonical lines, then mutates one of them the ways a pack can be
wrong: non-canonical entry bytes (white space, key order, duplicate members, ``1.0`` and
exponent forms, integers beyond 2**53 - 1, ``\\u`` and ``\\/`` escapes, keys beyond U+E000
whose UTF-16 and code-point orders differ), bad or outside times, another encoding of the
base64, a leaf hash that does not match, indices out of order or outside the tree, an entry
that is not an object, a tenant's scope. The property: whenever the batch check accepts a
piece, the line-by-line check accepts every line of it without a problem and gathers the
same indices, leaf hashes and cited entries; whatever the line-by-line check refuses, the
batch check refuses too (it then hands the piece to it). And the batch check does accept
the pieces nobody mutated, so the fast path is what runs.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.canonical import canonical_json
from edgeaudit.errors import CanonicalError
from edgeaudit.verify.pack_batch import Batch, Rules, full_lines, plain_objects, whole_groups
from edgeaudit.verify.pack_entries import Cited, _Lines
from edgeaudit.verify.pack_files import PackReport

START = 1_700_000_000  # 2023-11-14T22:13:20Z
PERIOD = ("2023-11-14T22:13:20", "2023-11-15T22:13:20")
SIZE = 10_000
TENANT = "fintech-a"


def _time(offset: int, fraction: str = "") -> str:
    day, rest = divmod(START + offset, 86400)
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(days=day, seconds=rest)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _line(index: int, body: bytes, leaf: bytes | None = None) -> bytes:
    leaf = leaf if leaf is not None else hashlib.sha256(b"\x00" + body).digest()
    return b'{"entry":"%s","index":%d,"leaf_hash":"%s"}\n' % (
        base64.b64encode(body),
        index,
        leaf.hex().encode(),
    )


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "kind": draw(st.sampled_from(["auth.logon", "net.flow", "priv.switch"])),
        "time": _time(draw(st.integers(0, 86399)), draw(st.sampled_from(["", ".5", ".123456"]))),
        "tenant": TENANT,
        "port": draw(st.integers(0, 65535)),
        "actor": {"principal": draw(st.text(min_size=1, max_size=8)), "session": "s1"},
    }
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=8), json_value, max_size=3))
    for k, v in extra.items():
        event.setdefault(k, v)
    return event


def _replace_value(body: bytes, key: bytes, text: bytes) -> bytes:
    """``"key":<value>`` with the value's text replaced (the value must be a number)."""
    at = body.index(b'"' + key + b'":') + len(key) + 3
    end = at
    while end < len(body) and body[end : end + 1] not in (b",", b"}"):
        end += 1
    return body[:at] + text + body[end:]


def _mutations(body: bytes, event: dict[str, Any]) -> list[bytes]:
    """Entry bytes near the canonical ``body``: each differs from it in one way."""
    out = [
        body.replace(b":", b": ", 1),
        b" " + body,
        body + b"\n",
        body[:1] + b'"kind":"x",' + body[1:],  # a duplicate member (or one out of order)
        _replace_value(body, b"port", b"%d.0" % event["port"]),
        _replace_value(body, b"port", b"%de0" % event["port"]),
        _replace_value(body, b"port", b"1E3"),
        _replace_value(body, b"port", b"-0"),
        _replace_value(body, b"port", b"9007199254740992"),
        _replace_value(body, b"port", b"-9007199254740992"),
        _replace_value(body, b"port", b"123456789012345678901234567890"),
        _replace_value(body, b"port", b"9007199254740991"),  # the largest safe one: fine
        _replace_value(body, b"port", b"0.5"),  # a canonical float: the exact check decides
        body.replace(b'"kind"', b'"\\u006bind"', 1),
        body.replace(b'"s1"', b'"s\\/1"', 1),
        body.replace(b'"s1"', b'"s\\u0031"', 1),
        body.replace(b'"s1"', b'"\\u00e91"', 1),
        body.replace(b'"s1"', '"\u00e91"'.encode(), 1),
        json.dumps(event, separators=(",", ":")).encode(),  # insertion order, ASCII escapes
        json.dumps(event, separators=(",", ":"), sort_keys=True).encode(),
        json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode(),
        json.dumps([event], separators=(",", ":"), sort_keys=True).encode(),  # not an object
        b'"just a string"',
        b"{}",  # an object without a time
    ]
    for key in ("\ue000", "\U0001f600", "\uff61"):  # UTF-16 order differs from code points
        wide = {**event, key: 1, key + "x": 2}
        with contextlib.suppress(CanonicalError):
            out.append(canonical_json(wide))
        out.append(
            json.dumps(wide, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        )
    for time in (
        "2023-02-30T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T22:13:60Z",
        "2023-11-14T22:13:20+01:00",
        "2023-11-14T22:13:20+00:00",
        "2023-11-14t22:13:20z",
        "2023-11-14 22:13:20Z",
        "2023-11-14T22:13:20.1234567890Z",
        "2023-11-14T22:13:19Z",  # just before the period
        "2023-11-15T22:13:20Z",  # its end: outside
        "2023-11-15T22:13:19.999Z",  # the last second inside
        "0000-01-01T00:00:00Z",
        "2023-11-14T22:13:2Z",
        "2023-11-14T23:00:00Z\n2023-11-14T23:00:00Z",  # two times in one
    ):
        out.append(canonical_json({**event, "time": time}))
    out.append(canonical_json({**event, "time": 1700000000}))
    out.append(canonical_json({k: v for k, v in event.items() if k != "tenant"}))
    out.append(canonical_json({**event, "scope": [TENANT, "media-b"]}))
    out.append(canonical_json({**event, "scope": []}))
    out.append(canonical_json({**event, "tenant": "media-b"}))
    return out


def _slow(piece: bytes, last: int, rules: Rules) -> tuple[PackReport, _Lines]:
    report = PackReport("test")
    cited = Cited(refs={i: [("R-1", "")] for i in rules.cited})
    cited.site_wide_records.update(rules.site_wide)
    check = _Lines(rules, bytes(32), cited, report, True)
    check.last = last
    for number, raw in enumerate(io.BytesIO(piece), 1):  # split as pack files are
        check.line(number, raw, None)
    return report, check


def _agree(piece: bytes, last: int, rules: Rules) -> Batch | None:
    batch = full_lines(piece, last, rules)
    report, check = _slow(piece, last, rules)
    if batch is not None:
        assert report.ok, (report.problems, piece[:300])
        assert list(check.indices) == batch.indices
        assert bytes(check.leaves) == batch.leaves
        assert [(i, h, b) for i, h, b, _ in check.pending] == batch.cited
        assert check.pending_count == len(batch.indices)
    elif not report.ok:
        pass  # both refuse: the line-by-line check names the problem
    return batch


@st.composite
def cases(draw: st.DrawFn) -> tuple[bytes, int, Rules, int, bytes, bool]:
    evs = draw(st.lists(events(), min_size=1, max_size=6))
    first = draw(st.integers(0, 50))
    gaps = draw(st.lists(st.integers(1, 3), min_size=len(evs), max_size=len(evs)))
    indices = [first + sum(gaps[: i + 1]) for i in range(len(evs))]
    bodies = [canonical_json(e) for e in evs]
    tenant = draw(st.sampled_from([None, TENANT]))
    cited = draw(st.sets(st.sampled_from(indices), max_size=2))
    rules = Rules(
        SIZE,
        tenant,
        START,
        START + 86400,
        PERIOD[0],
        PERIOD[1],
        frozenset(cited),
        frozenset(draw(st.sets(st.sampled_from(indices), max_size=1))),
    )
    clean = b"".join(_line(i, b) for i, b in zip(indices, bodies, strict=True))
    k = draw(st.integers(0, len(evs) - 1))
    options = _mutations(bodies[k], evs[k])
    mutated = options[draw(st.integers(0, len(options) - 1))]
    lines = [_line(i, b) for i, b in zip(indices, bodies, strict=True)]
    lines[k] = _line(indices[k], mutated)
    last = draw(st.sampled_from([-1, first]))
    return clean, last, rules, k, b"".join(lines), mutated == bodies[k]


@settings(max_examples=200, deadline=None)
@given(cases())
def test_batch_accepts_only_what_the_line_check_accepts(
    case: tuple[bytes, int, Rules, int, bytes, bool],
) -> None:
    clean, last, rules, _, mutated, _ = case
    _agree(mutated, last, rules)
    _agree(clean, last, rules)


@settings(max_examples=25, deadline=None)
@given(events(), events(), st.booleans())
def test_every_mutation_of_an_entry(
    event: dict[str, Any], before: dict[str, Any], cite: bool
) -> None:
    """Each mutation of ``_mutations`` after a clean line, in a site and a tenant pack."""
    body = canonical_json(event)
    head = _line(3, canonical_json(before))
    refused = 0
    for tenant in (None, TENANT):
        rules = Rules(
            SIZE, tenant, START, START + 86400, *PERIOD, frozenset({4} if cite else ()), frozenset()
        )
        for mutated in _mutations(body, event):
            if _agree(head + _line(4, mutated), -1, rules) is None:
                refused += 1
    assert refused >= len(_mutations(body, event))  # most are refused (or left to the exact check)


@settings(max_examples=100, deadline=None)
@given(st.lists(events(), min_size=1, max_size=8), st.data())
def test_batch_takes_clean_pieces(evs: list[dict[str, Any]], data: st.DataObject) -> None:
    """Canonical entries of the site, in the period: the fast path accepts them."""
    bodies = [canonical_json(e) for e in evs]
    ascii_only = all(b.isascii() for b in bodies)
    piece = b"".join(_line(i * 2, b) for i, b in enumerate(bodies))
    rules = Rules(SIZE, None, START, START + 86400, *PERIOD, frozenset(), frozenset())
    batch = _agree(piece, -1, rules)
    if ascii_only:  # non-ASCII entries go to the exact encoder, line by line
        assert batch is not None
        assert batch.indices == [i * 2 for i in range(len(evs))]


RULES = Rules(SIZE, None, START, START + 86400, *PERIOD, frozenset(), frozenset())
GOOD = canonical_json(
    {"kind": "auth.logon", "port": 22, "tenant": TENANT, "time": "2023-11-14T23:00:00Z"}
)


def test_line_level_near_misses_are_refused_by_both() -> None:
    good = _line(5, GOOD)
    assert _agree(good, -1, RULES) is not None
    encoded = base64.b64encode(GOOD).decode()
    near = [
        good.replace(b'"index":5', b'"index":05'),
        good.replace(b'"index":5', b'"index":5.0'),
        good.replace(b'{"entry"', b'{ "entry"'),
        good.replace(b"}\n", b"} \n"),
        good.rstrip(b"\n"),  # no newline at the end of the piece
        good.replace(b'"leaf_hash":"', b'"leaf_hash":"A', 1)[:-3] + b'"}\n',
        good.upper().replace(b"ENTRY", b"entry").replace(b"INDEX", b"index"),
        _line(5, GOOD, bytes(32)),  # a leaf hash the bytes do not give
        _line(SIZE, GOOD),  # outside the tree
        _line(5, GOOD) + _line(5, GOOD),  # not ascending
        _line(6, GOOD) + _line(5, GOOD),
        b'{"entry":"%s","index":5,"leaf_hash":"%s"}\n'
        % (
            base64.b64encode(GOOD)[:-1] + b"\n=",
            hashlib.sha256(b"\x00" + GOOD).hexdigest().encode(),
        ),
    ]
    if encoded.endswith("="):  # another encoding of the same bytes: non-zero padding bits
        trail = encoded.rstrip("=")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        bumped = trail[:-1] + alphabet[alphabet.index(trail[-1]) + 1]
        other = bumped + "=" * (len(encoded) - len(trail))
        assert base64.b64decode(other) == GOOD
        near.append(good.replace(encoded.encode(), other.encode()))
    for piece in near:
        assert _agree(piece, -1, RULES) is None, piece
        report, _ = _slow(piece, -1, RULES)
        assert not report.ok, piece
    assert _agree(good, 5, RULES) is None  # must follow the entry before it


def test_outside_the_period_only_when_cited() -> None:
    late = canonical_json({"kind": "k", "time": "2023-11-16T00:00:00Z"})
    piece = _line(5, GOOD) + _line(7, late)
    assert _agree(piece, -1, RULES) is None
    cited = Rules(SIZE, None, START, START + 86400, *PERIOD, frozenset({7}), frozenset())
    batch = _agree(piece, -1, cited)
    assert batch is not None
    assert [c[0] for c in batch.cited] == [7]


def test_tenant_scope() -> None:
    mine = Rules(SIZE, TENANT, START, START + 86400, *PERIOD, frozenset(), frozenset({9}))
    other = canonical_json({"kind": "k", "tenant": "media-b", "time": "2023-11-14T23:00:00Z"})
    none = canonical_json({"kind": "k", "time": "2023-11-14T23:00:00Z"})
    assert _agree(_line(5, GOOD), -1, mine) is not None
    assert _agree(_line(5, GOOD) + _line(6, other), -1, mine) is None
    assert _agree(_line(5, none), -1, mine) is None  # no scope: only a site-wide record
    assert _agree(_line(9, none), -1, mine) is not None


def test_plain_objects_is_types_ok() -> None:
    from edgeaudit.canonical import _types_ok

    deep: Any = 1
    for _ in range(63):
        deep = [deep]
    deeper: Any = [deep]
    values: list[Any] = [
        {"a": 1},
        {"a": 1.0},
        {"a": [1, {"b": 2.5}]},
        {"a": {"b": {"c": None}}},
        {"a": deep},
        {"a": deeper},
        [1],
        "x",
    ]
    for v in values:
        expected = type(v) is dict and _types_ok(v, 0)
        assert plain_objects([v]) == expected, v


def test_a_date_that_does_not_exist_inside_the_period() -> None:
    """A period over the end of February: 2023-02-29 sorts inside it but does not exist."""
    start = 1677542400  # 2023-02-28T00:00:00Z
    rules = Rules(
        SIZE,
        None,
        start,
        start + 2 * 86400,
        "2023-02-28T00:00:00",
        "2023-03-02T00:00:00",
        frozenset(),
        frozenset(),
    )
    fine = canonical_json({"kind": "k", "time": "2023-03-01T12:00:00Z"})
    assert _agree(_line(5, fine), -1, rules) is not None
    for time in ("2023-02-29T12:00:00Z", "2023-02-30T00:00:00Z", "2023-02-28T12:00:00Z"):
        body = canonical_json({"kind": "k", "time": time})
        batch = _agree(_line(5, fine) + _line(6, body), -1, rules)
        assert (batch is not None) == time.startswith("2023-02-28"), time


def test_base64_rule_is_the_round_trip() -> None:
    """The batch's canonical-base64 rule (the text's last three characters, strict decoding,
    the length) against ``b2a_base64(a2b_base64(text)) == text``, over characters of each
    kind (last 4 bits zero: A, Q; last 2 bits zero: E; others: R, B, /; and "="): every text
    of up to 6 of them, and of 8 of some."""
    import binascii
    import itertools

    from edgeaudit.verify.pack_batch import _TAILS

    texts = itertools.chain(
        *(itertools.product(b"AQREB=/", repeat=n) for n in range(1, 7)),
        itertools.product(b"AQE=/", repeat=8),
        [b"AAAA=", b"AAAA====", b"AAAAAA==", b"AAAA=AA="],
    )
    for chars in texts:
        text = bytes(chars)
        try:
            body = binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error:
            body = None
        exact = body is not None and binascii.b2a_base64(body, newline=False) == text
        rule = whole_groups([text]) and _TAILS.fullmatch(text[-3:]) is not None and body is not None
        assert rule == exact, text
