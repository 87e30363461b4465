"""Run a parser over bytes the way the runner does: frame lines (or the whole file), track
offsets, and collect what comes out. Shared by the parser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
