"""The witness's durable state: per log origin, the latest cosigned size, root and note.

One SQLite database (WAL, ``synchronous=FULL``: every commit is fsynced before it returns).
Writes go through :class:`Committer`: one batch at a time takes every waiting request, checks each
against the state (in arrival order, so two requests for one log never both pass against the
same old size), signs the ones that pass, stores them all in one transaction (group commit) and
only then releases the answers. A crash before the commit loses the answers, never the
invariant; a crash after it leaves a size the client learns from the next 409.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from edgeaudit.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS witness_log (
    origin TEXT PRIMARY KEY,
    size TEXT NOT NULL,      -- decimal: tree sizes go up to 2**64-1, past SQLite's INTEGER
    root BLOB NOT NULL,
    note BLOB NOT NULL       -- the checkpoint as cosigned, with this witness's cosignature
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS witness_fork (
    id INTEGER PRIMARY KEY,  -- the order they were seen in
    origin TEXT NOT NULL,
    note_sha256 BLOB NOT NULL,
    note BLOB NOT NULL,      -- a validly signed checkpoint inconsistent with what was cosigned
    cosigned BLOB NOT NULL,  -- the cosigned checkpoint it contradicts
    reason TEXT NOT NULL,
    seen INTEGER NOT NULL,   -- POSIX time first seen
    UNIQUE (origin, note_sha256)
);
"""


@dataclass(frozen=True)
class ForkEvidence:
    """A checkpoint signed by the log's key that contradicts the one cosigned: kept as proof."""

    origin: str
    note: bytes
    cosigned: bytes
    reason: str


@dataclass(frozen=True)
class LogState:
    """The latest checkpoint this witness cosigned for one origin."""

    size: int
    root: bytes
    note: bytes


class StateDB:
    """The state database; one writer (the committer thread), readers under its lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"{path}: cannot open the witness state database: {exc}") from None
        self._lock = threading.Lock()

    def load(self) -> dict[str, LogState]:
        with self._lock:
            rows = self._db.execute("SELECT origin, size, root, note FROM witness_log").fetchall()
        return {o: LogState(int(s), bytes(r), bytes(n)) for o, s, r, n in rows}

    def forks(self) -> list[tuple[str, bytes, bytes, str, int]]:
        """Every fork kept: (origin, note, cosigned note, reason, first seen), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT origin, note, cosigned, reason, seen FROM witness_fork ORDER BY id"
            ).fetchall()
        return [(o, bytes(n), bytes(c), r, s) for o, n, c, r, s in rows]

    def store(self, updates: dict[str, LogState], forks: Sequence[ForkEvidence] = ()) -> None:
        """Write ``updates`` and ``forks`` in one transaction; durable when this returns."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO witness_log (origin, size, root, note) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, "
                    "root = excluded.root, note = excluded.note",
                    [(o, str(s.size), s.root, s.note) for o, s in updates.items()],
                )
                now = int(time.time())
                self._db.executemany(
                    "INSERT OR IGNORE INTO witness_fork "
                    "(origin, note_sha256, note, cosigned, reason, seen) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            f.origin,
                            hashlib.sha256(f.note).digest(),
                            f.note,
                            f.cosigned,
                            f.reason,
                            now,
                        )
                        for f in forks
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()


# A decision: given the log's current state (None if never cosigned), return the new state to
# store and the response body, or raise Refusal. Runs while no other batch runs.
Decide = Callable[[LogState | None], tuple[LogState, bytes]]


@dataclass(frozen=True)
class _Job:
    origin: str
    decide: Decide
    done: Future[bytes]


class Committer:
    """Serializes check-and-update per witness and group-commits the results.

    No thread of its own: the request thread that finds no batch running leads the next one,
    taking every job queued meanwhile (its own included); the others wait on it. So a lone
    request costs no thread hand-off, and concurrent ones share a commit.
    """

    def __init__(self, db: StateDB, after_store: Callable[[], None] | None = None) -> None:
        self._db = db
        self._state = db.load()
        self._after_store = after_store
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()  # guards _jobs, _state, _closed
        self._leader = threading.Lock()  # held by the thread running a batch
        self._closed = False

    def state(self, origin: str) -> LogState | None:
        with self._cond:
            return self._state.get(origin)

    def submit(self, origin: str, decide: Decide) -> bytes:
        """Run ``decide`` atomically against ``origin``'s state; the answer once stored."""
        done: Future[bytes] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the witness is not cosigning (shut down or state unreadable)")
            self._jobs.append(_Job(origin, decide, done))
        with self._leader:
            if not done.done():
                with self._cond:
                    jobs, self._jobs = self._jobs, []
                self._batch(jobs)
        return done.result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
        with self._leader:  # let a running batch finish
            pass

    def _batch(self, jobs: list[_Job]) -> None:
        pending: dict[str, LogState] = {}
        answers: list[tuple[_Job, bytes]] = []
        forks: list[ForkEvidence] = []
        refused: list[tuple[_Job, BaseException]] = []  # answered once their evidence is kept
        for job in jobs:
            current = pending.get(job.origin, self._state.get(job.origin))
            try:
                new, answer = job.decide(current)
            except BaseException as exc:  # a Refusal, or a bug: that request fails alone
                fork = getattr(exc, "fork", None)
                if isinstance(fork, ForkEvidence):
                    forks.append(fork)
                    refused.append((job, exc))
                else:
                    job.done.set_exception(exc)
                continue
            pending[job.origin] = new
            answers.append((job, answer))
        if pending or forks:
            try:
                self._db.store(pending, forks)
            except BaseException as exc:
                for job, _ in answers:
                    job.done.set_exception(exc)
                for job, _ in refused:
                    job.done.set_exception(exc)
                self._reload()  # the commit may or may not have landed: trust only the disk
                return
            with self._cond:
                self._state.update(pending)
            if self._after_store is not None and pending:
                self._after_store()
        for job, answer in answers:
            job.done.set_result(answer)
        for job, refusal in refused:
            job.done.set_exception(refusal)

    def _reload(self) -> None:
        try:
            state = self._db.load()
        except BaseException:
            with self._cond:  # cannot tell what is stored: stop cosigning altogether
                self._closed = True
            return
        with self._cond:
            self._state = state


def create_private_file(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only; refuse to replace an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create: {exc}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
