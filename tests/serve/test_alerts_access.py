"""Alerts on access as it is collected: a logon right after a burst of failed logons, a forced
door or a tamper alarm; each recorded as ``alert.raised`` (a real store and a real command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeaudit.serve.alert_access import BURST_SUCCESS, DOOR_ALARM
from edgeaudit.serve.alerts import Notifier, Watcher
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.serve.test_alerts import _append, _recorded, ws  # noqa: F401 (the fixture)


def _failed(
    n: int, second: int, ip: str = "203.0.113.66", user: str = "ravi", src: str = "syslog"
) -> dict[str, Any]:
    return {
        "time": f"2026-08-01T10:{second // 60:02d}:{second % 60:02d}Z",
        "kind": "auth.logon_failed",
        "outcome": "failure",
        "source": src,
        "actor": {"user": user, "src_ip": ip},
        "target": {"asset": "bastion-1", "account": user},
        "attrs": {"method": "password", "n": n},
    }


def _logon(second: int, ip: str = "203.0.113.66", user: str = "ravi") -> dict[str, Any]:
    return {
        "time": f"2026-08-01T10:{second // 60:02d}:{second % 60:02d}Z",
        "kind": "auth.logon",
        "outcome": "success",
        "source": "syslog",
        "actor": {"user": user, "src_ip": ip},
        "target": {"asset": "bastion-1", "account": user},
    }


def _door(alarm: str, second: int) -> dict[str, Any]:
    kind = "physical.tamper" if alarm == "tamper" else "physical.alarm"
    return {
        "time": f"2026-08-01T11:00:{second:02d}Z",
        "kind": kind,
        "source": "badge-csv",
        "target": {"resource": "CAGE-FA-1"},
        "attrs": {} if alarm == "tamper" else {"alarm": alarm},
    }


def _watcher(ws: cfg.WorkspaceConfig, log: Any, out: Path) -> Watcher:  # noqa: F811
    return Watcher(ws.root, log, Notifier(None, f"sh -c 'cat >> {out}; echo >> {out}'"))


def test_a_success_after_ten_failures_in_five_minutes_alerts_once(
    ws: cfg.WorkspaceConfig,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "alerts.jsonl"
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = _watcher(ws, log, out)
        assert watcher.check() == []
        # nine failures in the window, then a success: no alert
        _append(log, *(_failed(i, 10 * i) for i in range(9)), _logon(100))
        assert watcher.check() == []
        # the tenth failure (290 s after the first), then a success 9 minutes later: alert
        _append(log, _failed(9, 290))
        _append(log, _logon(290 + 540))
        sent = watcher.check()
        assert [s["alert"]["trigger"] for s in sent] == [BURST_SUCCESS]
        detail = sent[0]["alert"]["detail"]
        assert detail["failures"] == 10
        assert len(detail["failed_entries"]) == 10
        assert "203.0.113.66" in sent[0]["alert"]["summary"]
        assert [r["trigger"] for r in _recorded(log)] == [BURST_SUCCESS]
        assert watcher.check() == []  # nothing new, nothing again
        lines = [json.loads(x) for x in out.read_text().split("\n") if x.strip()]
        assert [x["alert"]["trigger"] for x in lines] == [BURST_SUCCESS]


def test_no_alert_when_the_success_comes_late_or_the_failures_are_spread(
    ws: cfg.WorkspaceConfig,  # noqa: F811
    tmp_path: Path,
) -> None:
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = _watcher(ws, log, tmp_path / "a.jsonl")
        watcher.check()
        # 10 failures within 5 minutes, the success 10 min 1 s after the last: too late
        _append(log, *(_failed(i, 30 * i) for i in range(10)), _logon(270 + 601))
        assert watcher.check() == []
        # 10 failures spread over 301 s (one source kind) from another address: no burst
        spread = [
            _failed(i, 1200 + round(i * 301 / 9), ip="198.51.100.7", user="u2") for i in range(10)
        ]
        _append(log, *spread, _logon(1200 + 310, ip="198.51.100.7", user="u2"))
        assert watcher.check() == []
        # the same attempt recorded by two sources is not counted twice: 5 + 5 is no burst
        both = [
            _failed(i, 2000 + i, ip="192.0.2.9", user="u3", src=src)
            for i in range(5)
            for src in ("syslog", "auditd")
        ]
        _append(log, *both, _logon(2010, ip="192.0.2.9", user="u3"))
        assert watcher.check() == []


def test_forced_door_and_tamper_alert_held_open_does_not(
    ws: cfg.WorkspaceConfig,  # noqa: F811
    tmp_path: Path,
) -> None:
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = _watcher(ws, log, tmp_path / "a.jsonl")
        watcher.check()
        _append(log, _door("held_open", 1), _door("forced_open", 2), _door("tamper", 3))
        sent = watcher.check()
        assert [s["alert"]["trigger"] for s in sent] == [DOOR_ALARM, DOOR_ALARM]
        assert "door forced open at CAGE-FA-1" in sent[0]["alert"]["summary"]
        assert "tamper alarm at CAGE-FA-1" in sent[1]["alert"]["summary"]
        assert [r["trigger"] for r in _recorded(log)] == [DOOR_ALARM, DOOR_ALARM]
