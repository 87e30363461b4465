"""Alerts on keys as they are collected: a Vault root-token request and a key made exportable or
deletable; each recorded as ``alert.raised`` (a real store and a real command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeaudit.serve.alert_keys import KEY_EXPOSED, ROOT_TOKEN, key_alerts
from edgeaudit.serve.alerts import Notifier, Watcher
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.serve.test_alerts import _append, _recorded, ws  # noqa: F401 (the fixture)


def _root(path: str, kind: str = "vault.request") -> dict[str, Any]:
    return {
        "time": "2026-08-20T07:00:00.5Z",
        "kind": kind,
        "source": "vault",
        "actor": {"user": "root", "credential": "root-token", "src_ip": "10.0.0.5"},
        "target": {"resource": path},
        "attrs": {"path": path, "operation": "update", "root_token": True},
    }


def _state(exportable: bool, deletable: bool = False) -> dict[str, Any]:
    return {
        "time": "2026-08-20T08:00:00Z",
        "kind": "key.state",
        "source": "vault-keystate",
        "tenant": "media-b",
        "key": {"key": "media-b-data", "provider": "vault-transit", "owner": "media-b"},
        "attrs": {"exportable": exportable, "deletion_allowed": deletable},
    }


def _deletion(outcome: str = "success") -> dict[str, Any]:
    return {
        "time": "2026-08-21T08:00:00Z",
        "kind": "key.config",
        "source": "cloudtrail",
        "outcome": outcome,
        "actor": {"principal": "ravi.k", "user": "ravi.k"},
        "key": {"key": "ai-c-kms", "provider": "aws-kms", "operation": "schedule-deletion"},
    }


def test_root_token_and_exposed_keys_alert_once_and_are_recorded(
    ws: cfg.WorkspaceConfig,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "alerts.jsonl"
    with Store.open(ws.db_url) as store:
        log = store.log(ws.origin)
        watcher = Watcher(ws.root, log, Notifier(None, f"sh -c 'cat >> {out}; echo >> {out}'"))
        assert watcher.check() == []
        # a key state neither exportable nor deletable, a failed deletion call: no alert
        _append(log, _state(False), _deletion("failure"))
        assert watcher.check() == []
        _append(log, _root("sys/policies/acl/ops-admin"), _state(True), _deletion())
        sent = watcher.check()
        assert [s["alert"]["trigger"] for s in sent] == [ROOT_TOKEN, KEY_EXPOSED, KEY_EXPOSED]
        root = sent[0]["alert"]
        assert "sys/policies/acl/ops-admin" in root["summary"]
        assert "10.0.0.5" in root["summary"]
        assert sent[1]["alert"]["tenant"] == "media-b"
        assert sent[1]["alert"]["detail"]["flags"] == ["exportable"]
        assert "schedule-deletion by ravi.k" in sent[2]["alert"]["summary"]
        assert [r["trigger"] for r in _recorded(log)] == [ROOT_TOKEN, KEY_EXPOSED, KEY_EXPOSED]
        assert watcher.check() == []  # nothing new, nothing again
        lines = [json.loads(x) for x in out.read_text().split("\n") if x.strip()]
        assert len(lines) == 3


def test_root_token_on_key_events_and_nothing_on_others() -> None:
    assert [a[0] for a in key_alerts(1, _root("transit/keys/x/rotate", "key.rotate"))] == [
        ROOT_TOKEN
    ]
    ordinary = {**_root("sys/health"), "actor": {"user": "svc"}, "attrs": {"path": "sys/health"}}
    assert list(key_alerts(2, ordinary)) == []
    assert list(key_alerts(3, {**_root("transit/decrypt/k"), "kind": "key.use"})) == []  # bulk
    both = list(key_alerts(4, _state(True, True)))
    assert [a[4]["flags"] for a in both] == [["exportable", "deletion_allowed"]]
