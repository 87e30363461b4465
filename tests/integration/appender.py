"""Separate OS processes that append to, sign or upgrade an evidence store, for the tests.

Run as ``python -m tests.integration.appender append|sign|upgrade ...`` from the repository
root (the tests use :func:`spawn`). The input is a *plan*: a JSON list of batch specs, each expanded
deterministically by :func:`batch_events`, so the parent test can compute exactly what was sent.

``append``: open the store, prepare every batch, write ``--ready``, wait for ``--go`` (a file
the parent creates: all children start together), append the batches one ``append`` call each,
write the results to ``--out``. With ``--marker``, the marker is written after all batches but
the last are committed and right before the last ``append`` starts (the crash tests kill the
process after that).

``upgrade``: write ``--ready``, then ``Store.open(url, upgrade=True)``; the outcome to ``--out``.

``sign``: sign checkpoints in a loop (with the PEM key in ``--key``) until ``--stop`` exists;
write every returned note to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select

from edgeaudit.canonical import GENESIS_CHAIN, chain_hash, leaf_hash
from edgeaudit.events import PreparedEntry, prepare
from edgeaudit.note.verifier import Verifier
from edgeaudit.store import Store
from edgeaudit.store.schema import Entry
from edgeaudit.verify.report import VerifyReport
from edgeaudit.verify.store import verify_log

REPO = Path(__file__).resolve().parents[2]
_BASE = datetime(2026, 3, 1, tzinfo=UTC)

# -- the events (shared by the parent and the children) ------------------------------------


def _ts(i: int) -> str:
    return (_BASE + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")


def unique_event(tag: str, i: int) -> tuple[dict[str, Any], str]:
    """Event ``i`` of the stream ``tag`` and its fingerprint: distinct for each (tag, i)."""
    event = {
        "time": _ts(i),
        "kind": "integration.append",
        "tenant": f"tenant-{i % 3}",
        "source": f"src-{tag}",
        "tag": tag,
        "n": i,
        "detail": {"pad": "x" * 40, "ok": i % 2 == 0},
    }
    return event, f"{tag}:{i}"


def shared_event(j: int) -> tuple[dict[str, Any], str | None]:
    """Shared event ``j``: sent by several processes, must be stored once. Odd ones have an
    explicit fingerprint, even ones are identified by their own bytes."""
    event = {"time": _ts(j), "kind": "integration.shared", "tenant": "tenant-s", "j": j}
    return event, (f"shared:{j}" if j % 2 else None)


def batch_events(spec: dict[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """``{"tag": T, "start": a, "stop": b, "shared": [j, ...]}`` -> (event, fingerprint)s:
    the unique events a..b-1 of stream T with the shared events spread among them."""
    out: list[tuple[dict[str, Any], str | None]] = [
        unique_event(spec["tag"], i) for i in range(spec["start"], spec["stop"])
    ]
    shared = spec.get("shared", [])
    step = max(1, len(out) // max(1, len(shared)))
    for k, j in enumerate(shared):
        out.insert(min(len(out), k * step + k), shared_event(j))
    return out


def prepare_batch(spec: dict[str, Any]) -> list[PreparedEntry]:
    return [prepare(event, fingerprint=fp) for event, fp in batch_events(spec)]


_KEYED: dict[str, list[tuple[bytes, bytes]]] = {}


def distinct_entries(plan: Sequence[dict[str, Any]]) -> dict[bytes, bytes]:
    """fp_key -> body of every distinct entry in ``plan`` (what the log must hold once)."""
    out: dict[bytes, bytes] = {}
    for spec in plan:
        key = json.dumps(spec, sort_keys=True)
        if key not in _KEYED:  # the parent asks again and again: prepare each spec once
            _KEYED[key] = [(e.fp_key, e.body) for e in prepare_batch(spec)]
        for fp_key, body in _KEYED[key]:
            assert out.setdefault(fp_key, body) == body
    return out


# -- parent side ---------------------------------------------------------------------------


def spawn(args: Sequence[str], log_prefix: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m tests.integration.appender ARGS``; output goes to PREFIX.out/.err."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    with (
        open(f"{log_prefix}.out", "wb") as out,
        open(f"{log_prefix}.err", "wb") as err,
    ):
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.appender", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )


def stderr_of(log_prefix: Path) -> str:
    try:
        return Path(f"{log_prefix}.err").read_text(errors="replace")[-4000:]
    except FileNotFoundError:
        return ""


def wait_for_files(
    paths: Sequence[Path],
    procs: Sequence[tuple[subprocess.Popen[bytes], Path]],
    timeout: float,
) -> None:
    """Wait until every path exists; fail early (with its stderr) if a child dies first."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        for proc, prefix in procs:
            if proc.poll() is not None and proc.returncode != 0:
                raise AssertionError(
                    f"child {proc.args} exited with {proc.returncode}:\n{stderr_of(prefix)}"
                )
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not p.exists()]
            raise AssertionError(f"timed out after {timeout}s waiting for {missing}")
        time.sleep(0.001)


def check_log(
    url: str, origin: str, expected: dict[bytes, bytes], verifier: Verifier
) -> VerifyReport:
    """The log holds exactly ``expected`` (fp_key -> body), each entry once, at indexes
    0..n-1 with no gap or fork, its chain recomputes, and ``verify_log`` finds nothing."""
    n = len(expected)
    with Store.open(url) as store:
        log = store.log(origin)
        size, head = log.head()
        assert size == n, f"log size {size}, expected {n} distinct entries"
        t = Entry.__table__
        with store.engine.connect() as conn:
            counts = conn.execute(
                select(
                    func.count(),
                    func.count(distinct(t.c.idx)),
                    func.min(t.c.idx),
                    func.max(t.c.idx),
                    func.count(distinct(t.c.fp_key)),
                ).where(t.c.log_id == log.log_id)
            ).one()
            stored_fps = {
                bytes(r[0])
                for r in conn.execute(select(t.c.fp_key).where(t.c.log_id == log.log_id))
            }
        assert tuple(counts) == (n, n, 0 if n else None, n - 1 if n else None, n), counts
        assert stored_fps == set(expected)
        bodies: Counter[bytes] = Counter()
        chain, want_idx = GENESIS_CHAIN, 0
        with log.reader() as reader:
            for idx, body, stored_leaf, stored_chain in reader.iter_entries():
                assert idx == want_idx, f"index {want_idx} missing (next is {idx})"
                body = bytes(body)
                assert leaf_hash(body) == bytes(stored_leaf), idx
                chain = chain_hash(chain, leaf_hash(body))
                assert chain == bytes(stored_chain), f"chain breaks at {idx}"
                bodies[body] += 1
                want_idx += 1
        assert want_idx == n
        assert chain == head
        assert bodies == Counter(expected.values()), "stored bodies differ from those sent"
        report = verify_log(log, [verifier])
    assert report.ok, [str(p) for p in report.problems]
    assert report.tree_size == n
    return report


def write_json(path: Path, value: object) -> None:
    """Write atomically: readers see the whole file or none."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


# -- child side ----------------------------------------------------------------------------


def _wait_go(go: str | None) -> None:
    if go is None:
        return
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 120 s")
        time.sleep(0.001)


def _cmd_append(args: argparse.Namespace) -> None:
    plan = json.loads(Path(args.plan).read_text())
    batches = [prepare_batch(spec) for spec in plan]
    results: list[list[int | None]] = []
    with Store.open(args.url) as store:
        log = store.log(args.origin)
        log.head()  # a pooled connection is ready before the start signal
        if args.ready:
            write_json(Path(args.ready), {"pid": os.getpid()})
        _wait_go(args.go)
        started = time.perf_counter()
        first_s = 0.0
        for n, batch in enumerate(batches):
            if args.marker and n == len(batches) - 1:
                write_json(Path(args.marker), {"pre": log.size, "first_s": first_s})
            r = log.append(batch)
            if n == 0:  # how long the first append waited for the lock and committed
                first_s = time.perf_counter() - started
            results.append([r.appended, r.duplicates, r.first_index, r.tree_size])
            if args.pause:
                time.sleep(random.uniform(0, args.pause))
        elapsed = time.perf_counter() - started
    write_json(Path(args.out), {"results": results, "elapsed": elapsed, "first_s": first_s})


def _cmd_sign(args: argparse.Namespace) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edgeaudit.note.signer import Ed25519Signer

    key = serialization.load_pem_private_key(Path(args.key).read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    signer = Ed25519Signer(args.origin, key)
    notes: list[list[Any]] = []
    with Store.open(args.url) as store:
        log = store.log(args.origin)
        log.head()
        if args.ready:
            write_json(Path(args.ready), {"pid": os.getpid()})
        _wait_go(args.go)
        while not os.path.exists(args.stop):
            cp = log.sign_checkpoint(signer)
            notes.append([cp.tree_size, cp.note])
            time.sleep(args.pause)
    write_json(Path(args.out), {"notes": notes})


def _cmd_upgrade(args: argparse.Namespace) -> None:
    if args.ready:
        write_json(Path(args.ready), {"pid": os.getpid()})
    try:
        Store.open(args.url, upgrade=True).close()
    except Exception as exc:  # reported to the parent, which asserts on it
        write_json(Path(args.out), {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    else:
        write_json(Path(args.out), {"ok": True})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.appender")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("append", "sign", "upgrade"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--origin", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--ready")
        p.add_argument("--go")
    a = sub.choices["append"]
    a.add_argument("--plan", required=True)
    a.add_argument("--marker")
    a.add_argument("--pause", type=float, default=0.0, help="sleep up to this between batches")
    s = sub.choices["sign"]
    s.add_argument("--key", required=True)
    s.add_argument("--stop", required=True)
    s.add_argument("--pause", type=float, default=0.01)
    args = parser.parse_args(argv)
    {"append": _cmd_append, "sign": _cmd_sign, "upgrade": _cmd_upgrade}[args.command](args)


if __name__ == "__main__":
    main()
