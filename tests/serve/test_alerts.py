"""Alerts through a real webhook (a local HTTP server) and a real command, each recorded."""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from edgeaudit.events import prepare
from edgeaudit.note.verifier import Verifier
from edgeaudit.serve.alerts import (
    CRITICAL_FINDING,
    DENIED_REACHABLE,
    VERIFY_FAILED,
    Notifier,
    Watcher,
)
from edgeaudit.store import EvidenceLog, Store
from edgeaudit.store.triggers import trigger_names
from edgeaudit.verify import verify_log
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.signing import sign_checkpoint
from tests.pack.helpers import run


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            n = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(n)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> cfg.WorkspaceConfig:
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    root = tmp_path / "ws"
    assert run("--workspace", str(root), "init", "--site", "alerts")[0] == 0
    return cfg.load(root)


def _probe(verdict: str, expected: str, n: int) -> dict[str, Any]:
    return {
        "time": f"2026-08-01T00:00:{n:02d}Z",
        "kind": "probe.result",
        "scope": ["fintech-a"],
        "attrs": {
            "run": "r1",
            "plan": "p",
            "vantage": "seg-ai",
            "segment": "seg-fintech",
            "address": "10.10.0.11",
            "protocol": "tcp",
            "port": 5432 + n,
            "expected": expected,
            "verdict": verdict,
        },
    }


def _finding(severity: str, status: str, n: int) -> dict[str, Any]:
    return {
        "time": f"2026-08-01T00:01:{n:02d}Z",
        "kind": "policy.result",
        "tenant": "fintech-a",
        "result": {
            "id": f"F-{n:016x}",
            "rule": "key-tenant-use",
            "status": status,
            "severity": severity,
            "reason": "svc used another tenant's key",
        },
    }


def _append(log: EvidenceLog, *events: dict[str, Any]) -> None:
    log.append([prepare(e) for e in events])


def _recorded(log: EvidenceLog) -> list[dict[str, Any]]:
    with log.reader() as reader:
        size, _ = reader.head()
        return [orjson.loads(b) for _, b, _ in reader.select(["alert.raised"], None, None, size)]


def test_webhook_alerts_once_each_and_records_them(
    ws: cfg.WorkspaceConfig, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = Watcher(ws.root, log, Notifier(url, None))
        assert watcher.check() == []
        _append(
            log,
            _probe("reachable", "deny", 1),  # alert
            _probe("blocked", "deny", 2),
            _probe("reachable", "allow", 3),
            _finding("critical", "fail", 4),  # alert
            _finding("high", "fail", 5),
            _finding("critical", "pass", 6),
        )
        sent = watcher.check()
        assert [s["alert"]["trigger"] for s in sent] == [DENIED_REACHABLE, CRITICAL_FINDING]
        assert all(s["delivered"] for s in sent)
        assert [r["alert"]["trigger"] for r in received] == [DENIED_REACHABLE, CRITICAL_FINDING]
        assert "seg-ai reached seg-fintech" in received[0]["alert"]["summary"]
        records = _recorded(log)
        assert [(r["trigger"], r["delivered"], r["target"]) for r in records] == [
            (DENIED_REACHABLE, True, "webhook"),
            (CRITICAL_FINDING, True, "webhook"),
        ]
        assert records[1]["tenant"] == "fintech-a"
        assert watcher.check() == []  # nothing new
        # a restarted watcher starts where the last one stopped
        again = Watcher(ws.root, log, Notifier(url, None))
        assert again.check() == []
        assert len(received) == 2


def test_command_alerts_and_failed_delivery_is_recorded(
    ws: cfg.WorkspaceConfig, tmp_path: Path
) -> None:
    out = tmp_path / "alert.json"
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = Watcher(ws.root, log, Notifier(None, f"sh -c 'cat > {out}'"))
        _append(log, _probe("reachable", "deny", 7))
        sent = watcher.check()
        assert len(sent) == 1
        assert json.loads(out.read_text())["alert"]["trigger"] == DENIED_REACHABLE
        # an unreachable webhook: the alert is still recorded, as not delivered
        dead = Watcher(ws.root, log, Notifier("http://127.0.0.1:9/none", None, timeout=2))
        _append(log, _finding("critical", "fail", 8))
        sent = dead.check()
        assert [s["delivered"] for s in sent] == [False]
        last = _recorded(log)[-1]
        assert last["trigger"] == CRITICAL_FINDING
        assert last["delivered"] is False
        assert last["error"]


def test_verification_failure_alerts(
    ws: cfg.WorkspaceConfig, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = hook
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        _append(log, *(_probe("blocked", "deny", n) for n in range(5)))
        sign_checkpoint(ws, log)
        keys = [Verifier.parse(ws.verifier_key)]
        watcher = Watcher(
            ws.root,
            log,
            Notifier(url, None),
            verify=lambda: verify_log(log, keys),
            verify_every=0.001,
        )
        assert watcher.check() == []  # intact
        conn = sqlite3.connect(ws.root / "evidence" / "store.db")
        try:
            for name in trigger_names("entries"):
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            conn.execute("UPDATE entries SET body = ? WHERE idx = 2", (b'{"kind":"x.y"}',))
            conn.commit()
        finally:
            conn.close()
        sent = watcher.check()
        assert [s["alert"]["trigger"] for s in sent] == [VERIFY_FAILED]
        assert received[-1]["alert"]["trigger"] == VERIFY_FAILED


def test_webhook_must_be_http() -> None:
    from edgeaudit.errors import InputError

    with pytest.raises(InputError, match="alert-webhook"):
        Notifier("file:///etc/passwd", None)
