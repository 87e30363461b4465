"""Alerts: a webhook (HTTP POST of JSON) or a command (JSON on stdin) when

* a denied path becomes reachable (a ``probe.result`` expected ``deny`` with verdict
  ``reachable``),
* a critical finding appears (a ``policy.result`` that fails with severity ``critical``), or
* store verification fails (checked every ``verify_every`` seconds, when set),
* a logon succeeds right after a burst of failed logons from its address or for its account,
  or a door is forced open or a tamper alarm goes off (``alert_access``),
* a Vault root token is used, or a key is made exportable or deletable (``alert_keys``).

A watcher thread reads the entries appended since it last looked (the position is kept in
``alerts/state.json``, so a restart neither repeats nor skips alerts) and raises each alert
once. Every alert is recorded in the store as an ``alert.raised`` entry with the trigger, the
entry it is about, where it was sent and whether delivery worked.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from edgeaudit.errors import EdgeauditError, InputError
from edgeaudit.events import prepare
from edgeaudit.serve import alert_access, alert_keys
from edgeaudit.store import EvidenceLog

log = logging.getLogger("edgeaudit.serve.alerts")
DENIED_REACHABLE = "denied-path-reachable"
CRITICAL_FINDING = "critical-finding"
VERIFY_FAILED = "verification-failed"
STATE = "alerts/state.json"
# the kinds of entries the watcher reads as they arrive
WATCHED = ["probe.result", "policy.result", *alert_access.KINDS, *alert_keys.KINDS]


@dataclass(frozen=True)
class Alert:
    trigger: str
    summary: str
    entry: int | None = None
    tenant: str | None = None
    detail: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "summary": self.summary,
            "entry": self.entry,
            "tenant": self.tenant,
            "detail": self.detail or {},
        }


def alerts_in(index: int, body: bytes) -> Iterator[Alert]:
    """The alerts one stored entry raises (none for most entries)."""
    entry = orjson.loads(body)
    kind = entry.get("kind")
    if kind == "probe.result":
        attrs = entry.get("attrs") or {}
        if attrs.get("expected") == "deny" and attrs.get("verdict") == "reachable":
            yield Alert(
                DENIED_REACHABLE,
                f"{attrs.get('vantage')} reached {attrs.get('segment')} "
                f"{attrs.get('address')} {attrs.get('protocol')}/{attrs.get('port')}, "
                "which the isolation matrix denies",
                index,
                None,
                {
                    k: attrs.get(k)
                    for k in (
                        "run",
                        "plan",
                        "vantage",
                        "segment",
                        "address",
                        "protocol",
                        "port",
                        "control",
                    )
                },
            )
    elif kind == "policy.result":
        result = entry.get("result") or {}
        if result.get("status") == "fail" and result.get("severity") == "critical":
            yield Alert(
                CRITICAL_FINDING,
                f"{result.get('id')} {result.get('rule')}: {result.get('reason')}",
                index,
                entry.get("tenant"),
                {"result": result.get("id"), "rule": result.get("rule")},
            )


def _entry_alerts(index: int, body: bytes, reader: Any, size: int) -> Iterator[Alert]:
    yield from alerts_in(index, body)
    for trigger, summary, entry, tenant, detail in alert_access.access_alerts(
        index, orjson.loads(body), reader, size
    ):
        yield Alert(trigger, summary, entry, tenant, detail)
    for trigger, summary, entry, tenant, detail in alert_keys.key_alerts(index, orjson.loads(body)):
        yield Alert(trigger, summary, entry, tenant, detail)


class Notifier:
    """Delivers an alert to the webhook or the command; returns (target, ok, error)."""

    def __init__(self, webhook: str | None, command: str | None, timeout: float = 10.0) -> None:
        if webhook and not webhook.startswith(("http://", "https://")):
            raise InputError(f"--alert-webhook {webhook!r}: expected an http(s):// URL")
        self.webhook = webhook
        self.command = shlex.split(command) if command else None
        self.timeout = timeout

    @property
    def configured(self) -> bool:
        return bool(self.webhook or self.command)

    def send(self, payload: dict[str, Any]) -> tuple[str, bool, str | None]:
        data = json.dumps(payload, sort_keys=True).encode()
        if self.webhook:
            req = urllib.request.Request(  # noqa: S310 (scheme checked above)
                self.webhook, data=data, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    return "webhook", 200 <= resp.status < 300, None
            except OSError as exc:
                return "webhook", False, str(exc)[:200]
        if self.command:
            try:
                done = subprocess.run(
                    self.command,
                    input=data,
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return "command", False, str(exc)[:200]
            err = done.stderr.decode("utf-8", "replace")[:200] or None
            return "command", done.returncode == 0, None if done.returncode == 0 else err
        return "none", False, "no alert target configured"


class Watcher:
    def __init__(
        self,
        root: Path,
        evidence: EvidenceLog,
        notifier: Notifier,
        *,
        interval: float = 30.0,
        verify: Callable[[], Any] | None = None,
        verify_every: float = 0.0,
    ) -> None:
        self.state_path = root / STATE
        self.log = evidence
        self.notifier = notifier
        self.interval = interval
        self._verify = verify
        self.verify_every = verify_every
        self._last_verify = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.position = self._load()

    def _load(self) -> int:
        try:
            return int(json.loads(self.state_path.read_text())["position"])
        except FileNotFoundError:
            return self.log.size  # alert on what arrives from now on
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{self.state_path}: not an alert state file") from None

    def _save(self) -> None:
        self.state_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"position": self.position}))
        tmp.replace(self.state_path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive one bad round
                log.exception("alert check failed")

    def check(self) -> list[dict[str, Any]]:
        """One round: new entries, then (when due) store verification. Returns what was sent."""
        with self._lock:
            sent: list[dict[str, Any]] = []
            with self.log.reader() as reader:
                size, _ = reader.head()
                found = [
                    a
                    for index, body, _ in reader.select(WATCHED, None, None, size)
                    if index >= self.position
                    for a in _entry_alerts(index, bytes(body), reader, size)
                ]
            for a in found:
                sent.append(self.raise_alert(a))
            self.position = size
            self._save()
            due = (
                self.verify_every > 0 and time.monotonic() - self._last_verify >= self.verify_every
            )
            if self._verify is not None and due:
                self._last_verify = time.monotonic()
                problem = None
                try:
                    report = self._verify()
                    if not report.ok:
                        problem = "; ".join(str(p) for p in report.problems[:3])
                except EdgeauditError as exc:
                    problem = str(exc)
                if problem:
                    sent.append(self.raise_alert(Alert(VERIFY_FAILED, problem[:500])))
            return sent

    def raise_alert(self, alert: Alert) -> dict[str, Any]:
        payload = {"origin": self.log.origin, "alert": alert.to_dict(), "id": uuid.uuid4().hex}
        target, ok, error = self.notifier.send(payload)
        record: dict[str, Any] = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": "alert.raised",
            "trigger": alert.trigger,
            "summary": alert.summary,
            "about_entry": alert.entry,
            "target": target,
            "delivered": ok,
            "alert_id": payload["id"],
        }
        if error:
            record["error"] = error
        if alert.tenant:
            record["tenant"] = alert.tenant
        self.log.append([prepare(record, fingerprint=f"alert:{payload['id']}")])
        return {**payload, "delivered": ok, "target": target}
