"""Concurrent appenders in separate OS processes, with a checkpoint signer running alongside.

Eight processes open the store themselves and append many small batches, all released at the
same moment; part of every batch is a pool of events that the other processes send too (and
one is repeated inside the batch). A ninth process signs checkpoints in a loop meanwhile.

Afterwards the log must hold every distinct event exactly once at indexes 0..n-1 (no fork, no
gap, no lost or doubled entry), each appender must have been given its own index range, every
checkpoint the signer produced must verify and be consistent with the later ones, and
``verify_log`` must pass before and after one more checkpoint is signed.

Also: several processes opening a new store with ``upgrade=True`` at once all succeed.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from edgeaudit.merkle.verify import verify_consistency
from edgeaudit.note.signer import Ed25519Signer
from edgeaudit.note.verifier import verify_checkpoint
from edgeaudit.store import Store
from edgeaudit.store.engine import open_engine
from edgeaudit.verify.store import verify_log
from tests.integration.appender import (
    check_log,
    distinct_entries,
    prepare_batch,
    spawn,
    stderr_of,
    wait_for_files,
)

ORIGIN = "audit.example.net/integration-concurrency"
WORKERS = 8
BATCHES = 25
BATCH_SIZE = 40  # distinct events per batch, plus the shared ones
SHARED_PER_BATCH = 5
POOL = 60  # shared events, sent by several workers (and by the same worker again)


def worker_plan(w: int) -> list[dict[str, Any]]:
    plan = []
    for b in range(BATCHES):
        shared = [(w * 11 + b * SHARED_PER_BATCH + k) % POOL for k in range(SHARED_PER_BATCH)]
        plan.append(
            {
                "tag": f"w{w}",
                "start": b * BATCH_SIZE,
                "stop": (b + 1) * BATCH_SIZE,
                "shared": [*shared, shared[0]],  # and one repeat inside the batch
            }
        )
    return plan


def write_key(path: Path) -> Ed25519Signer:
    """A fresh log key (generated now, for this test only), PEM in ``path`` for the child."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return Ed25519Signer(ORIGIN, key)


@pytest.mark.slow
def test_concurrent_appenders_and_signer(db_url: str, tmp_path: Path) -> None:
    signer = write_key(tmp_path / "log.key")
    verifier = signer.verifier()
    with Store.open(db_url, upgrade=True) as store:
        store.log(ORIGIN, create=True)

    go, stop = tmp_path / "go", tmp_path / "stop"
    plans = [worker_plan(w) for w in range(WORKERS)]
    children = []
    for w, plan in enumerate(plans):
        (tmp_path / f"plan{w}.json").write_text(json.dumps(plan))
        prefix = tmp_path / f"worker{w}"
        args = [
            "append",
            "--url",
            db_url,
            "--origin",
            ORIGIN,
            "--plan",
            str(tmp_path / f"plan{w}.json"),
        ]
        args += ["--ready", f"{prefix}.ready", "--go", str(go), "--out", f"{prefix}.json"]
        args += ["--pause", "0.004"]
        children.append((spawn(args, prefix), prefix))
    sprefix = tmp_path / "signer"
    sargs = ["sign", "--url", db_url, "--origin", ORIGIN, "--key", str(tmp_path / "log.key")]
    sargs += ["--ready", f"{sprefix}.ready", "--go", str(go), "--stop", str(stop)]
    sargs += ["--out", f"{sprefix}.json", "--pause", "0.005"]
    signer_proc = spawn(sargs, sprefix)
    everyone = [*children, (signer_proc, sprefix)]
    try:
        wait_for_files([Path(f"{p}.ready") for _, p in everyone], everyone, timeout=90)
        go.touch()  # the barrier: every child is waiting for this file
        started = time.monotonic()
        for proc, prefix in children:
            assert proc.wait(timeout=120) == 0, stderr_of(prefix)
        appending = time.monotonic() - started
        stop.touch()
        assert signer_proc.wait(timeout=60) == 0, stderr_of(sprefix)
    finally:
        for proc, _ in everyone:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # What every appender was told: its own index ranges, disjoint, covering 0..n-1.
    expected = distinct_entries([spec for plan in plans for spec in plan])
    n = len(expected)
    ranges: list[tuple[int, int, int]] = []
    for w, (_, prefix) in enumerate(children):
        results = json.loads(Path(f"{prefix}.json").read_text())["results"]
        assert len(results) == BATCHES
        for spec, (appended, duplicates, first, tree_size) in zip(plans[w], results, strict=True):
            assert appended + duplicates == len(prepare_batch(spec))
            assert duplicates >= 1  # the repeat inside the batch at least
            if appended:
                assert tree_size == first + appended
                ranges.append((first, first + appended, w))
            else:
                assert first is None
    ranges.sort()
    assert sum(stop_ - start for start, stop_, _ in ranges) == n
    assert ranges[0][0] == 0
    assert ranges[-1][1] == n
    for (_, end, _), (start, _, _) in itertools.pairwise(ranges):
        assert end == start, f"gap or overlap between index ranges at {end}/{start}"
    # The appenders really ran at the same time: the log alternates between them.
    switches = sum(a[2] != b[2] for a, b in itertools.pairwise(ranges))
    assert switches >= 2 * WORKERS, f"appends were not interleaved ({switches} switches)"

    check_log(db_url, ORIGIN, expected, verifier)

    # Every checkpoint signed during the appends verifies, is stored, and the log extends it.
    notes = json.loads(Path(f"{sprefix}.json").read_text())["notes"]
    sizes = [size for size, _ in notes]
    assert sizes == sorted(sizes)
    assert any(0 < s < n for s in sizes), f"no checkpoint signed mid-way: {sorted(set(sizes))}"
    with Store.open(db_url) as store:
        log = store.log(ORIGIN)
        stored = {cp.tree_size: cp.note for cp in log.checkpoints()}
        parsed = {}
        for size, note in notes:
            cp = verify_checkpoint(note.encode(), [verifier], origin=ORIGIN)
            assert cp.size == size
            assert stored[size] == note
            parsed[size] = cp
        backend = store.backend
        with log.reader() as reader:
            good = sorted(s for s in parsed if s > 0)
            for old, new in itertools.pairwise(good):
                proof = reader.consistency_proof(old, new)
                verify_consistency(old, new, parsed[old].root, parsed[new].root, proof)

        final = log.sign_checkpoint(signer)
        assert final.tree_size == n
        report = verify_log(log, [verifier], trusted=final.note.encode())
        assert report.ok, [str(p) for p in report.problems]
        assert report.checkpoints_checked == len(log.checkpoints())
    print(
        f"\n[{backend}] {n} distinct entries from {WORKERS} processes, "
        f"{switches} writer switches, {len(notes)} checkpoints signed concurrently "
        f"({len(set(sizes))} sizes); appending took {appending:.1f} s"
    )


UPGRADERS = 4


def test_concurrent_first_upgrade(db_url: str, tmp_path: Path) -> None:
    """Processes that open a new store with ``upgrade=True`` at the same time (collectors
    started together, two operators running ``edgeaudit db upgrade``) must all succeed: one
    runs the migrations, the others wait for it and find the schema at head.

    To make the upgraders overlap, the parent holds a lock the first schema write needs
    (SQLite: the write lock, ``BEGIN IMMEDIATE``; PostgreSQL: ``DROP SCHEMA public`` in an open
    transaction, which blocks ``CREATE TABLE`` there) until all of them have started, then
    rolls back.
    """
    sqlite = make_url(db_url).get_backend_name() == "sqlite"
    engine = open_engine(db_url)
    if sqlite:
        lock = sqlite3.connect(str(make_url(db_url).database), isolation_level=None)
        lock.execute("PRAGMA journal_mode=WAL")
        lock.execute("BEGIN IMMEDIATE")
        release = lock.rollback
    else:
        hold = engine.connect()
        hold.begin()
        hold.exec_driver_sql("DROP SCHEMA public")
        release = hold.rollback
    children = []
    try:
        for i in range(UPGRADERS):
            prefix = tmp_path / f"upgrader{i}"
            args = ["upgrade", "--url", db_url, "--origin", ORIGIN, "--ready", f"{prefix}.ready"]
            children.append((spawn([*args, "--out", f"{prefix}.json"], prefix), prefix))
        wait_for_files([Path(f"{p}.ready") for _, p in children], children, timeout=60)
        if sqlite:
            time.sleep(2)  # a busy-waiting SQLite connection cannot be seen from outside
        else:
            deadline = time.monotonic() + 30
            with engine.connect() as watch:
                while (
                    watch.exec_driver_sql(
                        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                        "WHERE d.datname = current_database() AND NOT l.granted"
                    ).scalar_one()
                    < UPGRADERS
                ):
                    assert time.monotonic() < deadline, "the upgraders never queued"
                    time.sleep(0.01)
        release()
        for proc, prefix in children:
            assert proc.wait(timeout=120) == 0, stderr_of(prefix)
    finally:
        release()
        for proc, _ in children:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        (lock if sqlite else hold).close()
        engine.dispose()
    outcomes = [json.loads(Path(f"{p}.json").read_text()) for _, p in children]
    failed = [o["error"][:200] for o in outcomes if not o["ok"]]
    assert not failed, f"{len(failed)} of {UPGRADERS} concurrent upgraders failed: {failed}"
    with Store.open(db_url) as store:
        assert store.log(ORIGIN, create=True).size == 0
