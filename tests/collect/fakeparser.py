"""A tiny line parser for runner tests: ``ok N`` -> an event, ``bad ...`` -> quarantined,
``boom`` -> the parser raises (a bug), ``exit N`` -> the process ends at once with status N (a
crash), ``halt`` -> SystemExit (not an Exception: it must stop collection, not be quarantined),
anything else is skipped."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import ClassVar, Literal

from edgeaudit.collect.interface import Output, ParseContext, RawRecord
from edgeaudit.collect.model import Event, Provenance, Quarantined, raw_sha256


class FakeParser:
    name: ClassVar[str] = "fake"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "lines"
    stateful: ClassVar[bool] = False

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for r in records:
            if r.data.startswith(b"ok "):
                n = int(r.data[3:])
                t = f"2026-11-20T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"
                yield Event(
                    kind="auth.logon",
                    time=t,
                    time_text=t,
                    outcome="success",
                    provenance=Provenance(
                        "fake", ctx.source, r.location, self.version, raw_sha256(r.data)
                    ),
                    attrs=(("n", n),),
                )
            elif r.data.startswith(b"bad"):
                yield Quarantined("fake", ctx.source, r.location, "bad line", r.data)
            elif r.data == b"boom":
                raise RuntimeError("parser bug")
            elif r.data.startswith(b"exit "):
                os._exit(int(r.data[5:]))
            elif r.data == b"halt":
                raise SystemExit(f"halt at {r.location}")
