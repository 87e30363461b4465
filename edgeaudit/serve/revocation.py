"""The workspace's token ledger: ``tokens/issued.jsonl`` and ``tokens/revoked.jsonl``.

Append-only JSON Lines. ``edgeaudit token issue`` records each token's id, subject, role,
tenant and expiry (never the token itself); ``edgeaudit token revoke ID`` appends the id to the
revocation list. A running server re-reads the revocation list when the file changes (one
``stat`` per check), so a revocation takes effect on the next request.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError

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
