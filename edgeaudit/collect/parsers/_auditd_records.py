"""One auditd log line -> an :class:`AuditRecord` (helper of the auditd parser).

``[node=X ]type=T msg=audit(<epoch>.<ms>:<serial>): k=v ...[\\x1dNAME="v" ...]``. User-space
records wrap their payload in ``msg='k=v ...'``; its fields are merged into the record's
(outer fields win; a name repeated at one level keeps its last value). Values are
``"quoted"``, unquoted hex (for values with spaces or special characters), or bare words;
:func:`text` decodes the fields that may be hex. The ENRICHED part after the 0x1D byte gives
names for ids (``AUID="ravi" UID="root"``).
"""

from __future__ import annotations

import functools
import re
import time
from typing import NamedTuple

_HEAD = re.compile(
    r"(?:node=(\S*) )?type=(\S+) msg=audit\((\d{1,12})\.(\d{1,6}):(\d{1,20})\):(.*)", re.DOTALL
)
# names include brackets: a long EXECVE argument comes in pieces, a1_len=N a1[0]=.. a1[1]=..
_KV = re.compile(r"([A-Za-z0-9_-]+(?:\[\d+\])?)=('[^']*'|\"[^\"]*\"|[^ '\"]*)")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_UNSET = frozenset({"4294967295", "-1", "unset"})
_NONE = frozenset({"?", "(null)", "(none)", ""})
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


class BadRecord(Exception):
    """The line is not an auditd record; the message is the quarantine reason."""


class AuditRecord(NamedTuple):
    node: str | None
    type: str
    stamp: str  # "<epoch>.<ms>" as written
    serial: str
    ms: int  # audit time in milliseconds, for the 2-second event timeout
    fields: dict[str, str]  # raw values, quotes kept (see text())
    names: dict[str, str]  # ENRICHED fields, unquoted

    @property
    def key(self) -> tuple[str | None, str, str]:
        return (self.node, self.stamp, self.serial)


def parse_record(line: str) -> AuditRecord:
    raw, sep, enriched = line.partition("\x1d")
    m = _HEAD.match(raw)
    if m is None:
        if "type=" not in raw:
            raise BadRecord("not an auditd record: no type=")
        raise BadRecord("not an auditd record: expected 'type=T msg=audit(<epoch>.<ms>:<serial>):'")
    node, typ, secs, frac, serial, body = m.groups()
    if int(secs) > _MAX_EPOCH:
        raise BadRecord(f"audit time {secs} is out of range")
    fields: dict[str, str] = dict(_KV.findall(body))
    inner = fields.get("msg")
    if inner is not None and inner.startswith("'"):
        if len(inner) < 2 or not inner.endswith("'"):
            raise BadRecord("unterminated inner msg='...'")
        merged = dict(_KV.findall(inner[1:-1]))
        merged.update(fields)  # outer fields (pid, uid, auid, ses) win
        fields = merged
    elif "msg='" in body:
        raise BadRecord("unterminated inner msg='...'")
    names: dict[str, str] = {}
    if sep:
        for k, v in _KV.findall(enriched):
            names[k] = v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v
    ms = int(secs) * 1000 + int((frac + "00")[:3])
    return AuditRecord(node or None, typ, f"{secs}.{frac}", serial, ms, fields, names)


def text(fields: dict[str, str], name: str) -> str | None:
    """A field that auditd may hex-encode: quoted -> as written, hex -> decoded, ?/(null) ->
    None."""
    v = fields.get(name)
    if v is None:
        return None
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    if v in _NONE:
        return None
    if _HEX.fullmatch(v):
        return bytes.fromhex(v).decode("utf-8", "replace")
    return v


def raw_bytes(value: str) -> bytes:
    """The bytes of an untrusted-string value as the kernel logged it (EXECVE arguments,
    PROCTITLE): ``"quoted"`` -> the text between the quotes, hex -> the bytes it encodes.
    Anything else (never written by the kernel) is kept as written."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].encode()
    if _HEX.fullmatch(value):
        return bytes.fromhex(value)
    return value.encode()


def plain(fields: dict[str, str], name: str) -> str | None:
    """A field auditd never encodes (numbers, words): quotes stripped, ?/(null) -> None."""
    v = fields.get(name)
    if v is None:
        return None
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        v = v[1:-1]
    return None if v in _NONE else v


def is_unset(value: str | None) -> bool:
    return value is None or value in _UNSET


def utc(stamp: str) -> str:
    secs, _, frac = stamp.partition(".")
    return _second(int(secs)) + f".{frac}Z"


@functools.lru_cache(maxsize=256)
def _second(secs: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
