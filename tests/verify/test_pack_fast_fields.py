"""The batch check's reading of lines by their quotes and its float test
(edgeaudit.verify.pack_batch), held to the line-by-line check on adversarial lines: fields out
of place or split differently across two lines, numbers and hashes that ``int`` and
``bytes.fromhex`` would take but the format refuses, base64 that decodes but is not canonical,
and entries with floats (also hidden in strings, where the float test must only send the piece
to the slower type walk), big and negative-zero numbers, non-ASCII keys in the order where
UTF-16 and code points differ, duplicate members, escapes, white space and deep nesting.

Each case goes through ``_agree`` (tests/verify/test_pack_fast_batch.py): when the batch
accepts, the line check accepts every line and gathers the same; the cases here also say which
of the two must refuse."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edgeaudit.canonical import canonical_json
from edgeaudit.verify.pack_batch import _DIGITS, _FLOAT_TABLE
from edgeaudit.verify.pack_rules import _FLOAT
from tests.verify.test_pack_fast_batch import GOOD, RULES, TENANT, _agree, _line, _slow

EVENT: dict[str, Any] = {
    "kind": "auth.logon",
    "port": 22,
    "tenant": TENANT,
    "time": "2023-11-14T23:00:00Z",
}


def _raw(text: bytes, index: bytes, leaf: bytes) -> bytes:
    return b'{"entry":"' + text + b'","index":' + index + b',"leaf_hash":"' + leaf + b'"}\n'


def _parts(body: bytes) -> tuple[bytes, bytes]:
    return base64.b64encode(body), hashlib.sha256(b"\x00" + body).hexdigest().encode()


def _refused_by_both(piece: bytes) -> None:
    assert _agree(piece, -1, RULES) is None, piece
    report, _ = _slow(piece, -1, RULES)
    assert not report.ok, piece


def test_fields_out_of_place_are_refused_by_both() -> None:
    text, leaf = _parts(GOOD)
    good = _raw(text, b"5", leaf)
    assert _agree(good + _line(6, GOOD), -1, RULES) is not None
    for piece in (
        good.replace(b'"index":5', b'"index":"5"'),  # a string index
        b'{"index":5,"entry":"%s","leaf_hash":"%s"}\n' % (text, leaf),  # members reordered
        good.replace(b'"}\n', b'","x":"y"}\n'),  # an extra member
        good.replace(b'"entry"', b'"entrz"'),
        good.replace(text, text[:8] + b'\\"' + text[8:]),  # an escaped quote in the text
        good.replace(text, text[:8] + b"\\n" + text[8:]),
        good.replace(text, text[:4] + b"-" + text[5:]),  # URL-safe alphabet
        good.replace(text, text[:4] + b"_" + text[5:]),
        good.replace(b"}\n", b"}\r\n"),
        b" " + good,
        good + b"\n",  # an empty line after it
        _raw(b"", b"5", hashlib.sha256(b"\x00").hexdigest().encode()),  # an empty entry
        _raw(text, b"+5", leaf),
        _raw(text, b" 5", leaf),
        _raw(text, b"5 ", leaf),
        _raw(text, b"0_5", leaf),
        _raw(text, "\u0665".encode(), leaf),  # a non-ASCII digit
        _raw(text, b"5", leaf.upper()),
        _raw(text, b"5", leaf[:30] + b" " + leaf[31:]),
        _raw(text, b"5", leaf[:-1]),
    ):
        _refused_by_both(piece)


def test_fields_split_differently_across_two_lines() -> None:
    """Two lines whose fields joined read as two good lines but are cut elsewhere: a number
    field holding the next line's number, a hash of 63 characters beside one of 65."""
    text, leaf = _parts(GOOD)
    other = canonical_json({**EVENT, "port": 23})
    text2, leaf2 = _parts(other)
    assert _agree(_raw(text, b"5", leaf) + _raw(text2, b"6", leaf2), -1, RULES) is not None
    first = b'{"entry":"%s","index":5,:6,"leaf_hash":"%s"}\n' % (text, leaf)
    numbers = first + b'{"entry":"%s","index""leaf_hash":"%s"}\n' % (text2, leaf2)
    hashes = _raw(text, b"5", leaf[:-1]) + _raw(text2, b"6", leaf[-1:] + leaf2)
    texts = _raw(text + text2[:4], b"5", leaf) + _raw(text2[4:], b"6", leaf2)
    for piece in (numbers, hashes, texts):
        _refused_by_both(piece)


def _with(**members: Any) -> bytes:
    return canonical_json({**EVENT, **members})


def _entry_cases() -> list[tuple[bytes, str]]:
    """(entry bytes, what the batch must do: "take", "leave" to the line check, or "refuse"
    as the line check does)."""
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    port = b'"port":22'
    return [
        (_with(msg="a:1.5,[2e3"), "take"),  # float-like text in a string: the type walk
        (_with(msg="12:13:20.5"), "take"),
        (_with(time="2023-11-14T23:00:00.25Z"), "take"),
        (_with(ratio=[1, 2.5]), "leave"),  # a canonical float: the exact encoder decides
        (_with(ratio=0.5), "leave"),
        (GOOD.replace(port, b'"port":22.0'), "refuse"),
        (GOOD.replace(port, b'"port":2.2e1'), "refuse"),
        (GOOD.replace(port, b'"port":22E0'), "refuse"),
        (GOOD.replace(port, b'"port":-0.0'), "refuse"),
        (GOOD.replace(port, b'"port":-0'), "refuse"),
        (GOOD.replace(port, b'"port":9007199254740992'), "refuse"),
        (GOOD.replace(port, b'"port":-9007199254740992'), "refuse"),
        (GOOD.replace(port, b'"port":123456789012345678901234567890'), "refuse"),
        (GOOD.replace(port, b'"port":9007199254740991'), "take"),
        (GOOD.replace(b'{"kind"', b'{"kind":"x","kind"'), "refuse"),  # a duplicate member
        (GOOD.replace(b'"auth.logon"', b'"auth\\u002elogon"'), "refuse"),
        (GOOD.replace(b'"auth.logon"', b'"auth\\/logon"'), "refuse"),
        (GOOD.replace(b'"port":', b'"port": '), "refuse"),
        (GOOD + b" ", "refuse"),
        (json.dumps(EVENT, sort_keys=True).encode(), "refuse"),
        (canonical_json({**EVENT, "\ue000": 1, "\U0001f600": 2}), "leave"),  # UTF-16 order
        (
            json.dumps(
                {**EVENT, "\ue000": 1, "\U0001f600": 2},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode(),
            "refuse",
        ),  # code-point order: not RFC 8785's
        (_with(deep=deep), "take"),  # 71 containers deep, no float: orjson's bytes are JCS's
    ]


def test_entries_against_the_line_check() -> None:
    head = _line(3, GOOD)
    for body, expected in _entry_cases():
        piece = head + _line(4, body)
        batch = _agree(piece, -1, RULES)
        report, _ = _slow(piece, -1, RULES)
        if expected == "take":
            assert batch is not None, body
        elif expected == "refuse":
            assert batch is None, body
            assert not report.ok, body
        else:
            assert batch is None, body


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(b'0123456789-.eE:,["a}{'[c % 21] for c in b)))
def test_float_table_finds_every_float_pattern_match(text: bytes) -> None:
    """Wherever the line check's float pattern matches, the batch's translated text holds
    ``:.``: its test can only send more pieces to the type walk, never fewer."""
    if _FLOAT.search(text):
        assert b":." in text.translate(_FLOAT_TABLE, _DIGITS)
