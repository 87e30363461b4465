"""A second process verifying half of a SQLite log changes nothing in the report.

``edgeaudit.verify.split`` verifies whole chunks ``[lo, hi)`` of the log in another process
while the caller walks ``[0, lo)``; the caller adopts the helper's chunk roots only if the
helper found everything in place. For an intact log and each kind of tampering (entry bytes,
leaf or chain column, a missing, moved or planted row, damaged or missing tiles at each level,
a consistent rewrite, the head row), in either half and at the seam, with signed sizes inside
chunks and on their ends, and with chunks of 16 and 256 entries (``stream.CHUNK_LEVELS`` 1 and
2), the report equals, problem for problem and in order, the one-process report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, text

from edgeaudit.store import Store
from edgeaudit.verify import VerifyReport, split, stream
from tests.verify import tamper as t

SIZES = (100, 160, 175, 256, 300, 333)  # signed sizes inside 16/256-chunks and on their ends
N = SIZES[-1]


def _flip(conn: Connection, log_id: int, table: str, column: str, where: str) -> None:
    """Flip the first bit of one stored hash (or tile blob), keeping its length."""
    found = conn.execute(
        text(f"SELECT {column} FROM {table} WHERE log_id = :log AND {where}"), {"log": log_id}
    ).scalar_one()
    value = bytes(found)
    t.run(
        conn,
        f"UPDATE {table} SET {column} = :v WHERE log_id = :log AND {where}",
        {"v": bytes([value[0] ^ 1]) + value[1:], "log": log_id},
    )


def _rewrite(conn: Connection, log_id: int, idx: int = 205) -> None:
    t.set_body(conn, log_id, idx, b'{"kind":"y"}')
    t.rehash(conn, log_id)


Tamper = Callable[[Connection, int], None]

TAMPERS: dict[str, Tamper] = {
    "intact": lambda conn, log: None,
    "body": lambda conn, log: t.set_body(conn, log, 170, b'{"kind":"x"}'),
    "leaf column": lambda conn, log: _flip(conn, log, "entries", "leaf_hash", "idx = 40"),
    "chain column": lambda conn, log: _flip(conn, log, "entries", "chain_hash", "idx = 200"),
    "missing row": lambda conn, log: t.run(
        conn, "DELETE FROM entries WHERE log_id = :log AND idx = 130", {"log": log}
    ),
    "moved row": lambda conn, log: t.move_entry(conn, log, 33, 10**6),
    "first row moved": lambda conn, log: t.move_entry(conn, log, 0, 10**6),
    "level-0 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=0 AND tidx=9"),
    "level-1 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=1 AND tidx=0"),
    "level-2 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=2 AND tidx=0"),
    "missing tile": lambda conn, log: t.run(
        conn, "DELETE FROM tiles WHERE log_id = :log AND level = 0 AND tidx = 12", {"log": log}
    ),
    "rewritten consistently": _rewrite,
    "head row": lambda conn, log: t.set_head(conn, log, N - 1, bytes(32)),
    # in the second half, which a helper process verifies (160..319 with 16-entry chunks)
    "leaf column, second half": lambda conn, log: _flip(
        conn, log, "entries", "leaf_hash", "idx = 250"
    ),
    "level-0 tile, second half": lambda conn, log: _flip(
        conn, log, "tiles", "hashes", "level=0 AND tidx=15"
    ),
    "moved row, second half": lambda conn, log: t.move_entry(conn, log, 300, 10**6),
    "last row of the first half": lambda conn, log: t.run(
        conn, "DELETE FROM entries WHERE log_id = :log AND idx = 159", {"log": log}
    ),
}


# Chunks of 256 (CHUNK_LEVELS 2): a log of 900, the helper verifying 256..767.
SIZES_2 = (300, 512, 600, 700, 768, 900)
TAMPERS_2: dict[str, Tamper] = {
    "intact": lambda conn, log: None,
    "body": lambda conn, log: t.set_body(conn, log, 610, b'{"kind":"x"}'),
    "chain column": lambda conn, log: _flip(conn, log, "entries", "chain_hash", "idx = 256"),
    "level-0 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=0 AND tidx=40"),
    "level-1 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=1 AND tidx=2"),
    "level-2 tile": lambda conn, log: _flip(conn, log, "tiles", "hashes", "level=2 AND tidx=0"),
    "missing row": lambda conn, log: t.run(
        conn, "DELETE FROM entries WHERE log_id = :log AND idx = 767", {"log": log}
    ),
    "rewritten consistently": lambda conn, log: _rewrite(conn, log, 700),
}
CASES = [(1, SIZES, name) for name in TAMPERS] + [(2, SIZES_2, name) for name in TAMPERS_2]


def _report(built: t.Built, signer: Any) -> VerifyReport:
    return t.verify(built.log, signer, trusted=built.notes[sorted(built.notes)[2]])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("levels", "sizes", "tamper"), CASES)
def test_a_second_process_reports_what_one_process_reports(
    store: Store,
    signer: Any,
    levels: int,
    sizes: tuple[int, ...],
    tamper: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = t.build_log(store, signer, sizes=sizes)
    with t.attacker(store) as conn:
        (TAMPERS if levels == 1 else TAMPERS_2)[tamper](conn, built.log.log_id)
    monkeypatch.setattr(stream, "CHUNK_LEVELS", levels)
    monkeypatch.setenv(split.WORKERS_ENV, "1")
    alone = _report(built, signer)
    answers: list[object] = []
    real = split.Helper.answer

    def spy(self: split.Helper) -> object:
        answers.append(real(self))
        return answers[-1]

    monkeypatch.setattr(split.Helper, "answer", spy)
    monkeypatch.setattr(split, "MIN_ENTRIES", 1)
    monkeypatch.setenv(split.WORKERS_ENV, "2")
    helped = _report(built, signer)
    assert len(answers) == 1  # the helper ran
    assert helped == alone
    if tamper == "intact":
        assert answers[0] is not None  # and its range was adopted


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_helper_range_and_what_it_sends(store: Store, signer: Any) -> None:
    import sqlite3

    built = t.build_log(store, signer, sizes=SIZES)
    database = store.engine.url.database
    assert database is not None
    con = sqlite3.connect(database)
    answer = split.verify_range(con, built.log.log_id, 160, 320, [175, 300], 1)
    assert answer[0] == "ok"
    _, roots, inner, chain = answer
    leaves = t.leaves_of(built.rows)
    assert roots == [t.mth(leaves[s : s + 16]) for s in range(160, 320, 16)]
    assert inner == {
        175: [t.mth(leaves[160:168]), t.mth(leaves[168:172]), t.mth(leaves[172:174]), leaves[174]],
        300: [t.mth(leaves[288:296]), t.mth(leaves[296:300])],
    }
    assert chain == built.rows[319][3]
    assert split.verify_range(con, built.log.log_id, 160, 336, [], 1)[0] == "unclean"
    con.close()


def test_no_helper_for_small_logs_postgres_or_when_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(split.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert split.start(None, 1, 10**6, [], 3) is None  # not SQLite
    assert split.start("/nonexistent.db", 1, split.MIN_ENTRIES - 1, [], 3) is None
    monkeypatch.setenv(split.WORKERS_ENV, "1")
    assert split.start("/nonexistent.db", 1, 10**6, [], 3) is None
    monkeypatch.delenv(split.WORKERS_ENV)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert split.start("/nonexistent.db", 1, 10**6, [], 3) is None  # no idle CPU
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert split.start("/nonexistent.db", 1, 10**6, [], 3) is None


def test_a_helper_that_fails_leaves_the_range_to_the_caller(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A helper on a file that is not a store answers nothing usable: None, no exception."""
    monkeypatch.setenv(split.WORKERS_ENV, "2")
    bogus = tmp_path / "not-a-store.db"
    bogus.write_bytes(b"not sqlite at all" * 100)
    helper = split.start(str(bogus), 1, 10**6, [], 3)
    assert helper is not None
    assert helper.answer() is None
