"""Half of a large SQLite store verified by a second process, beside the first.

The store's verification is one pass that hashes every entry (three SHA-256 each). On a large
SQLite store with a CPU to spare, :func:`start` runs this module as a fresh interpreter
(``python -m edgeaudit.verify.split``: no fork of a process holding SQLite connections, and
only ``sqlite3``, ``hashlib`` and the hashing code to import) over an aligned range of whole
chunks ``[lo, hi)`` in the second half of the log, while the caller verifies ``[0, lo)``.

The helper is trusted with nothing it could get wrong silently. It answers ``ok`` only if every
entry of its range is exactly in place (indices ``lo .. hi - 1``), every stored leaf and chain
hash is what the entry bytes give (the first chain link from the stored chain hash of entry
``lo - 1``), and every stored tile of levels below ``CHUNK_LEVELS`` in the range equals the
recomputed one; with that it sends each chunk's root and, for signed sizes inside a chunk, the
chunk's part of the frontier. Anything else (a contradiction, an error, no answer, a different
snapshot where the right edge moved) and the caller verifies the range itself, row by row, and
reports exactly what a one-process verification reports. Complete chunks only: their tiles
never change once written, so the helper's own read snapshot sees what the caller's does.
"""

from __future__ import annotations

import logging
import marshal
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import quote

from edgeaudit.merkle.tiles import TILE_HEIGHT
from edgeaudit.verify import stream_chunks
from edgeaudit.verify.child import spawn

log = logging.getLogger(__name__)

MIN_ENTRIES = 1 << 17
"""Stores smaller than this are verified in one process (a second interpreter costs ~0.1 s)."""
WORKERS_ENV: Final = "EDGEAUDIT_VERIFY_WORKERS"  # "1": never a helper; "2": even on one CPU


@dataclass(frozen=True, slots=True)
class Answer:
    """What a clean range contributes: each chunk's root, in order, for each signed size inside
    a chunk the frontier nodes beyond that chunk's start, and the range's last chain hash."""

    roots: list[bytes]
    inner: dict[int, list[bytes]]
    chain: bytes


class Helper:
    """A running helper over ``[lo, hi)``; :meth:`answer` waits for it."""

    def __init__(self, proc: subprocess.Popen[bytes], lo: int, hi: int) -> None:
        self._proc = proc
        self.lo, self.hi = lo, hi

    def answer(self) -> Answer | None:
        """The helper's answer if its range is clean, else None (the caller does the range)."""
        assert self._proc.stdout is not None
        try:
            data = self._proc.stdout.read()
        finally:
            self.close()
        try:
            message = marshal.loads(data)  # noqa: S302 - written by our own child
        except (EOFError, ValueError, TypeError):
            message = ("no answer", f"exit code {self._proc.returncode}")
        if self._proc.returncode != 0 or not isinstance(message, tuple) or message[0] != "ok":
            why = message[1:] if isinstance(message, tuple) else message
            log.debug("verify helper %d..%d: %s; verified here", self.lo, self.hi, why)
            return None
        return Answer(message[1], message[2], message[3])

    def close(self) -> None:
        """Wait for the helper. It is never killed: a reader interrupted while SQLite recovers
        the write-ahead log could leave its shared-memory index for others to trip over (see
        ``background.py``); it only reads, for a few seconds."""
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc.wait()


def start(
    database: str | None,
    log_id: int,
    size: int,
    sizes: Sequence[int],
    chunk_levels: int,
) -> Helper | None:
    """Start a helper for the second half of a log of ``size`` entries in the SQLite file
    ``database``, if that is worth it: a big enough log and an idle CPU (two CPUs or more and
    the load average at most the CPUs less one), as for the collector's parse worker. Measured
    at 1 M entries, load 7-8 on 2 CPUs (docs/benchmarks.md): with the helper 12.0 s median
    against 9.9 s without, and 14 % more CPU. Not in a multiprocessing worker
    (:func:`_in_a_worker`). ``EDGEAUDIT_VERIFY_WORKERS=1``: never; ``=2``: whatever the load,
    even on one CPU or in a worker. ``sizes`` are the signed sizes the caller will check."""
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if database is None or size < MIN_ENTRIES or setting == "1" or not sys.executable:
        return None
    cpus = os.cpu_count() or 1
    if setting != "2" and (cpus < 2 or os.getloadavg()[0] > cpus - 1 or _in_a_worker()):
        return None
    chunk = 1 << (TILE_HEIGHT * chunk_levels)
    hi = size // chunk * chunk
    lo = (size // 2) // chunk * chunk  # the caller's half: [0, lo)
    if not 0 < lo < hi:
        return None
    request = (
        str(Path(database).absolute()),
        log_id,
        lo,
        hi,
        sorted({s for s in sizes if lo < s < hi and s % chunk}),
        chunk_levels,
    )
    proc = spawn("edgeaudit.verify.split", request)
    return None if proc is None else Helper(proc, lo, hi)


def _in_a_worker() -> bool:
    """Running in a multiprocessing worker, e.g. ``evaluate``'s background verification beside
    the checks: the caller already keeps the CPUs busy, a third process would only slow the
    checks down."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


# ---------------------------------------------------------------------------------------------
# The helper process


def _tiles(
    con: sqlite3.Connection, log_id: int, level: int, first: int, end: int
) -> Iterator[tuple[int, bytes]]:
    cur = con.execute(
        "SELECT tidx, hashes FROM tiles WHERE log_id = ? AND level = ? AND tidx >= ? "
        "AND tidx < ? ORDER BY tidx",
        (log_id, level, first, end),
    )
    cur.arraysize = 1024
    while rows := cur.fetchmany():
        yield from rows


def verify_range(
    con: sqlite3.Connection,
    log_id: int,
    lo: int,
    hi: int,
    inner: Sequence[int],
    chunk_levels: int,
) -> tuple[Any, ...]:
    """Check ``[lo, hi)`` of the log (module docstring): ``("ok", roots, inner nodes)`` or
    ``("unclean", what)``."""
    if not 0 < lo <= hi:
        return ("unclean", "empty range")
    chunk = 1 << (TILE_HEIGHT * chunk_levels)
    row = con.execute(
        "SELECT chain_hash FROM entries WHERE log_id = ? AND idx = ?", (log_id, lo - 1)
    ).fetchone()
    if row is None:
        return ("unclean", f"no entry {lo - 1}")
    previous = bytes(row[0])
    stored = [
        _tiles(con, log_id, t, lo >> (TILE_HEIGHT * (t + 1)), hi >> (TILE_HEIGHT * (t + 1)))
        for t in range(chunk_levels)
    ]
    cur = con.execute(
        "SELECT idx, body, leaf_hash, chain_hash FROM entries WHERE log_id = ? AND idx >= ? "
        "AND idx < ? ORDER BY idx",
        (log_id, lo, hi),
    )
    cur.arraysize = chunk
    roots: list[bytes] = []
    nodes: dict[int, list[bytes]] = {}
    pending = list(inner)
    for start in range(lo, hi, chunk):
        rows = cur.fetchmany()
        if len(rows) != chunk:
            return ("unclean", f"entries missing from {start}")
        levels = stream_chunks.chunk_levels(rows, start, previous)
        if levels is None:
            return ("unclean", f"an entry of {start}..{start + chunk - 1} does not check out")
        for _, t, k, blob in stream_chunks.chunk_tiles(levels, start):
            if next(stored[t], None) != (k, blob):
                return ("unclean", f"tile {t}/{k}")
        while pending and pending[0] < start + chunk:
            size = pending.pop(0)
            nodes[size] = stream_chunks.prefix_nodes(levels, size - start)
        roots.append(levels[-1][0])
        previous = rows[-1][3]
    return ("ok", roots, nodes, previous)


def _main(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    database, log_id, lo, hi, inner, chunk_levels = marshal.loads(stdin.read())  # noqa: S302
    try:
        con = sqlite3.connect(f"file:{quote(database)}?mode=ro", uri=True, timeout=120)
        try:
            con.execute("BEGIN")  # one read snapshot for the whole range
            answer = verify_range(con, log_id, lo, hi, inner, chunk_levels)
            con.execute("COMMIT")
        finally:
            con.close()
    except sqlite3.Error as exc:
        answer = ("unclean", f"{type(exc).__name__}: {exc}")
    stdout.write(marshal.dumps(answer))
    stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child process
    sys.exit(_main(sys.stdin.buffer, sys.stdout.buffer))
