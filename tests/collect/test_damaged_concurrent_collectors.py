"""Two collectors of one source at once: the second is refused at once (exit 75) with a message
naming the source and the holder; nothing of it is collected. Other sources are not held up,
and a holder that dies (even by SIGKILL) leaves no lock behind. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeaudit.cli.collect import SourceBusyError, source_locks
from tests.cli import make_workspace
from tests.collect.test_damaged_gzip import _auth

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "policies" / "inventory.yaml"


def _collect(ws: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(ws), "collect", "syslog",
        *args, "--inventory", str(INVENTORY), "--timezone", "UTC", "--year", "2026", "--json",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _run(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _collect(ws, *args), capture_output=True, text=True, timeout=120, env=_env()
    )


def _wait_for_holder(ws: Path, pid: int, timeout: float = 60.0) -> None:
    """Until the process ``pid`` has recorded itself in a lock file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for lock in (ws / "locks" / "collect").glob("*.lock"):
            try:
                if json.loads(lock.read_text() or "{}").get("pid") == pid:
                    return
            except ValueError:
                pass  # being written
        time.sleep(0.05)
    raise AssertionError("the first collector never took its lock")


def _entries(cli: object) -> int:
    return int(cli.ok("status", "--json").json()["entries"])  # type: ignore[attr-defined]


def test_a_second_collector_of_a_source_is_refused_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    ws = tmp_path / "ws"
    cli = make_workspace(capsys, monkeypatch, ws, db_url)
    auth, other = tmp_path / "auth.log", tmp_path / "other.log"
    auth.write_bytes(_auth(0, 20))
    other.write_bytes(_auth(100, 5))
    first = subprocess.Popen(
        [*_collect(ws, str(auth)), "--follow", "--poll", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        _wait_for_holder(ws, first.pid)
        deadline = time.monotonic() + 60
        while _entries(cli) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _entries(cli) == 20

        # the same source (named by another path to the same file): refused at once
        with auth.open("ab") as fh:
            fh.write(_auth(20, 5))
        began = time.monotonic()
        link = tmp_path / "link.log"
        link.symlink_to(auth)
        second = _run(ws, str(link), str(other))
        assert time.monotonic() - began < 30
        assert second.returncode == 75, second.stderr
        assert '"appended"' not in second.stdout  # no summary: nothing was collected
        err = second.stderr
        assert f"syslog source {auth.resolve()} is being collected by" in err
        assert "`edgeaudit collect --follow`" in err
        assert f"pid {first.pid} on {socket.gethostname()}, since 20" in err
        assert "nothing was collected" in err
        assert "Traceback" not in err

        # another source is not held up by it
        assert _run(ws, str(other)).returncode == 0
    finally:
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert json.loads(out)["appended"] == 25  # the follower took the appended lines itself
    # once the holder has ended, the source is free again, and there is nothing left to read
    again = _run(ws, str(auth))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["read"] == 0
    assert _entries(cli) == 30


def test_a_killed_holder_leaves_no_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    cli = make_workspace(capsys, monkeypatch, ws, "sqlite")
    auth = tmp_path / "auth.log"
    auth.write_bytes(_auth(0, 10))
    first = subprocess.Popen(
        [*_collect(ws, str(auth)), "--follow", "--poll", "0.05"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        _wait_for_holder(ws, first.pid)
        assert _run(ws, str(auth)).returncode == 75
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(60)
    with auth.open("ab") as fh:
        fh.write(_auth(10, 3))
    r = _run(ws, str(auth))
    assert r.returncode == 0, r.stderr
    assert _entries(cli) == 13


def test_locks_are_per_kind_and_file_and_all_or_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.touch()
    b.touch()
    with source_locks(tmp_path, "syslog", [a]):
        with source_locks(tmp_path, "journald", [a]), source_locks(tmp_path, "syslog", [b]):
            pass  # another kind of the same file, or another file: no conflict
        with (
            pytest.raises(SourceBusyError, match=r"syslog source .*a\.log is being collected"),
            source_locks(tmp_path, "syslog", [b, a]),
        ):
            pass
        with source_locks(tmp_path, "syslog", [b]):  # b was not kept by the refused attempt
            pass
    (tmp_path / "link").symlink_to(a)
    with source_locks(tmp_path, "syslog", [a, a, tmp_path / "link"]):
        pass  # one file named three ways is one lock
