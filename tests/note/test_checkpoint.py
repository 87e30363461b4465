"""Checkpoint: valid by construction, exact body bytes, strict parsing (one case per failure)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeaudit.errors import InputError, NoteError
from edgeaudit.note import Checkpoint

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
GOOD = f"audit.example.net/blr-pod-1\n42\n{ROOT_B64}\n".encode()


def test_body_is_exact_spec_layout() -> None:
    cp = Checkpoint("audit.example.net/blr-pod-1", 42, ROOT)
    assert cp.body() == GOOD


def test_parse_round_trips_with_extensions() -> None:
    body = GOOD + b"ext one\n\xe2\x80\x94 two\n"
    cp = Checkpoint.parse(body)
    assert cp.extensions == ("ext one", "\u2014 two")
    assert cp.body() == body


def test_empty_tree_size_zero_parses() -> None:
    cp = Checkpoint.parse(GOOD.replace(b"\n42\n", b"\n0\n"))
    assert cp.size == 0


def test_largest_uint64_size_parses_and_larger_does_not() -> None:
    assert Checkpoint.parse(GOOD.replace(b"\n42\n", b"\n18446744073709551615\n")).size == 2**64 - 1
    with pytest.raises(NoteError, match="line 2"):
        Checkpoint.parse(GOOD.replace(b"\n42\n", b"\n18446744073709551616\n"))


def _b64(n: int) -> str:
    return base64.b64encode(bytes(n)).decode()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (GOOD.replace(b"\n42\n", b"\n042\n"), "line 2"),
        (GOOD.replace(b"\n42\n", b"\n-42\n"), "line 2"),
        (GOOD.replace(b"\n42\n", b"\n+42\n"), "line 2"),
        (GOOD.replace(b"\n42\n", b"\n 42\n"), "line 2"),
        (GOOD.replace(b"\n42\n", b"\n4_2\n"), "line 2"),
        (GOOD.replace(b"\n42\n", "\n\u0664\u0662\n".encode()), "line 2"),  # Arabic-Indic digits
        (GOOD.replace(ROOT_B64.encode(), ROOT_B64.rstrip("=").encode()), "line 3"),
        (GOOD.replace(ROOT_B64.encode(), _b64(31).encode()), "expected 32 bytes, found 31"),
        (GOOD.replace(ROOT_B64.encode(), _b64(33).encode()), "expected 32 bytes, found 33"),
        (GOOD.replace(ROOT_B64.encode(), base64.urlsafe_b64encode(b"\xfb\xff" * 16)), "line 3"),
        (GOOD.replace(ROOT_B64.encode(), ROOT_B64[:-2].encode() + b"9="), "line 3"),  # stray bits
        (GOOD[:-1], "must end with a newline"),
        (b"\n" + GOOD.split(b"\n", 1)[1], "line 1 is empty"),
        (GOOD.replace(b"blr-pod-1", b"blr pod-1"), "line 1"),
        (GOOD.replace(b"blr-pod-1", b"blr+pod-1"), "line 1"),
        (GOOD + b"\n", "line 4 is empty"),
        (GOOD.replace(b"\n42\n", b"\n\n42\n"), "line 2 is empty"),
        (b"audit.example.net/blr-pod-1\n42\n", "at least 3 lines"),
        (GOOD.replace(b"\n42\n", b"\n42\r\n"), "line 2"),
        (GOOD + b"ext\tline\n", "line 4"),
        (b"\xff" + GOOD, "not valid UTF-8"),
    ],
    ids=[
        "leading-zero",
        "negative",
        "plus-sign",
        "space-before-size",
        "underscore-in-size",
        "non-ascii-digits",
        "missing-padding",
        "31-byte-root",
        "33-byte-root",
        "urlsafe-base64",
        "non-canonical-base64",
        "no-trailing-newline",
        "empty-origin",
        "space-in-origin",
        "plus-in-origin",
        "extra-blank-line-at-end",
        "extra-blank-line-inside",
        "too-few-lines",
        "crlf",
        "control-char-in-extension",
        "non-utf8",
    ],
)
def test_parse_rejects(body: bytes, where: str) -> None:
    with pytest.raises(NoteError, match=where):
        Checkpoint.parse(body)


def test_parse_rejects_str() -> None:
    with pytest.raises(NoteError, match="must be bytes"):
        Checkpoint.parse(GOOD.decode())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "a b"},
        {"origin": "a+b"},
        {"origin": "a\nb"},
        {"size": -1},
        {"size": 2**64},
        {"size": True},
        {"size": "42"},
        {"root": bytes(31)},
        {"root": bytearray(32)},
        {"extensions": ["x"]},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
    ],
)
def test_construction_rejects_invalid_fields(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"origin": "log.example/a", "size": 1, "root": ROOT}
    fields.update(kwargs)
    with pytest.raises(InputError, match="checkpoint"):
        Checkpoint(**fields)  # type: ignore[arg-type]


def test_checkpoint_is_frozen() -> None:
    cp = Checkpoint("log.example/a", 1, ROOT)
    with pytest.raises(AttributeError):
        cp.size = 2  # type: ignore[misc]


_names = st.text(st.characters(exclude_categories=["Z", "C"], exclude_characters="+"), min_size=1)


@given(
    origin=_names,
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(st.characters(exclude_categories=["C"]), min_size=1)),
)
def test_parse_inverts_body(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    extensions = [e for e in extensions if e.isprintable()]
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(cp.body()) == cp
