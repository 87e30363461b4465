"""Run a parser over bytes the way the runner does: frame lines (or the whole file), track
offsets, and collect what comes out. Shared by the parser tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from hypothesis import strategies as st

from edgeaudit.collect.interface import Output, ParseContext, Parser, RawRecord, Resume
from edgeaudit.collect.inventory import Inventory, load_inventory
from edgeaudit.collect.model import Event, Quarantined

INVENTORY = Path(__file__).resolve().parents[3] / "policies" / "inventory.yaml"


def inventory() -> Inventory:
    return load_inventory(INVENTORY)


def frame_lines(data: bytes, name: str = "input", start: int = 0) -> Iterator[RawRecord]:
    offset, line_no = 0, 0
    for line in data.splitlines(keepends=True):
        line_no += 1
        offset += len(line)
        if offset <= start:
            continue
        yield RawRecord(line.rstrip(b"\r\n"), f"{name}:{line_no}", offset)


def run(
    parser: Parser, data: bytes, ctx: ParseContext, name: str = "input", start: int = 0
) -> tuple[list[Event], list[Quarantined], list[Resume]]:
    if parser.framing == "file":
        records: Iterator[RawRecord] = iter([RawRecord(data, name, len(data))])
    else:
        records = frame_lines(data, name, start)
    out: list[Output] = list(parser.parse(records, ctx))
    return (
        [o for o in out if isinstance(o, Event)],
        [o for o in out if isinstance(o, Quarantined)],
        [o for o in out if isinstance(o, Resume)],
    )


def mutate(data: bytes, pos: int, byte: int, how: str, junk: bytes) -> bytes:
    """One fuzz mutation of ``data``: truncate at, xor ``byte`` into, or insert ``junk`` at
    ``pos`` (taken modulo the length); ``keep`` leaves it unchanged."""
    pos %= len(data)
    if how == "truncate":
        return data[:pos]
    if how == "flip":
        return data[:pos] + bytes([data[pos] ^ byte]) + data[pos + 1 :]
    if how == "insert":
        return data[:pos] + junk + data[pos:]
    return data


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes]) -> bytes:
    """A real-shaped line with one to four truncations, bit flips or insertions."""
    line = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert"]))
        pos = draw(st.integers(0, max(0, len(line) - 1)))
        if op == "truncate":
            del line[pos:]
        elif op == "flip" and line:
            line[pos] ^= 1 << draw(st.integers(0, 7))
        else:
            line[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(line).replace(b"\n", b" ")


@st.composite
def mutated_document(draw: st.DrawFn, seed: bytes) -> bytes:
    """A whole document with one to four cuts, bit flips or insertions (newlines kept)."""
    blob = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "flip", "insert"]))
        at = draw(st.integers(0, len(blob)))
        if op == "cut":
            del blob[at:]
        elif op == "flip" and at < len(blob):
            blob[at] ^= 1 << draw(st.integers(0, 7))
        else:
            blob[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(blob)
