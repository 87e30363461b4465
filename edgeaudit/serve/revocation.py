"""The workspace's token ledger: ``tokens/issued.jsonl`` and ``tokens/revoked.jsonl``.

Append-only JSON Lines. ``edgeaudit token issue`` records each token's id, subject, role,
tenant and expiry (never the token itself); ``edgeaudit token revoke ID`` appends the id to the
revocation list. A running server re-reads the revocation list when the file changes (one
``stat`` per check), so a revocation takes effect on the next request. ``token revoke`` also
appends a ``token.revoked`` entry to the store; :class:`Revocations` reads those too (at most
every ``poll`` seconds), so servers on other hosts sharing the store (without this
workspace's file) refuse the token within that time.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from edgeaudit.errors import InputError

if TYPE_CHECKING:
    from edgeaudit.store import EvidenceLog

ISSUED = "tokens/issued.jsonl"
REVOKED = "tokens/revoked.jsonl"


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{n}: not a JSON object") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise InputError(f"{path}:{n}: field 'id' is missing")
        out.append(rec)
    return out


class Ledger:
    def __init__(self, root: Path) -> None:
        self.issued_path = root / ISSUED
        self.revoked_path = root / REVOKED
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._revoked: frozenset[str] = frozenset()

    def record_issued(self, record: dict[str, Any]) -> None:
        _append(self.issued_path, record)

    def issued(self) -> list[dict[str, Any]]:
        return _read(self.issued_path)

    def revoke(self, jti: str, reason: str | None = None) -> dict[str, Any]:
        known = {r["id"]: r for r in self.issued()}
        if jti not in known:
            raise InputError(f"no token with id {jti!r} was issued from this workspace")
        if self.is_revoked(jti):
            raise InputError(f"token {jti} is already revoked")
        record = {"id": jti, "revoked_at": int(time.time()), "reason": reason}
        _append(self.revoked_path, record)
        return {**known[jti], **record}

    def is_revoked(self, jti: str) -> bool:
        try:
            st = self.revoked_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._revoked = frozenset(r["id"] for r in _read(self.revoked_path))
                self._stamp = stamp
            return jti in self._revoked


class Revocations:
    """Revoked token ids: the workspace's ledger file and the store's ``token.revoked``
    entries (read again at most every ``poll`` seconds, only the entries appended since)."""

    def __init__(self, ledger: Ledger, log: EvidenceLog | None, poll: float = 2.0) -> None:
        self.ledger = ledger
        self.log = log
        self.poll = poll
        self._lock = threading.Lock()
        self._checked = -1e9
        self._size = 0  # entries below this index were read
        self._ids: frozenset[str] = frozenset()

    def is_revoked(self, jti: str) -> bool:
        return self.ledger.is_revoked(jti) or jti in self._from_store()

    def _from_store(self) -> frozenset[str]:
        if self.log is None:
            return self._ids
        with self._lock:
            now = time.monotonic()
            if now - self._checked >= self.poll:
                self._checked = now
                with self.log.reader() as reader:
                    size, _ = reader.head()
                    found = {
                        str(orjson.loads(body).get("token"))
                        for index, body, _ in reader.select(["token.revoked"], None, None, size)
                        if index >= self._size
                    }
                if found:
                    self._ids = self._ids | found
                self._size = size
            return self._ids
