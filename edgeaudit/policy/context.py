"""What a check sees: the policy files, the period, and the evidence entries it asks for.

Evidence is read from one store snapshot (a :class:`~edgeaudit.store.reader.LogReader`), filtered by
kind and time in SQL, parsed once per kind and shared by every check. Times are compared as
epoch seconds (floats), parsed here once per entry.

A campus assessment (ADR 0018) reads several logs, each at its own size (:class:`LogSlice`):
every :class:`Ev` then carries its log's origin, ``events`` are merged in ``(time, origin,
index)`` order, and ``stream`` / ``log_rows`` read one log after another (each in index order).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as date_type
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from edgeaudit.policy.model import EvidenceRef

if TYPE_CHECKING:
    from edgeaudit.collect.inventory import Inventory
    from edgeaudit.policy.cedar import Decider
    from edgeaudit.policy.controls import Catalogue
    from edgeaudit.policy.raci import Raci
    from edgeaudit.store.reader import LogReader
    from edgeaudit.verify.report import VerifyReport

T = TypeVar("T")
_EPOCH_ORDINAL = date_type(1970, 1, 1).toordinal()
# kinds the built-in checks read (all but the bulk key use, which is streamed)
GRANT_KINDS = (
    "grant.request",
    "grant.review",
    "grant.approve",
    "grant.deny",
    "grant.revoke",
    "grant.expire",
)
PREFETCH = (
    "auth.logon",
    "auth.logoff",
    "session.start",
    "session.end",
    *GRANT_KINDS,
    "review.breakglass",
    "review.access",
    "key.state",
    "key.rotate",
    "priv.switch",
    "session.command",
    "physical.access",
    "probe.run",
    "probe.result",
    "audit.pipeline",
    # residency, retention, key lifecycle, leavers, incidents (issue 15, checks 7-12)
    *("key.config", "vault.request", "auth.verified", "backup.run", "clock.sync", "review.log"),
    *("incident.open", "incident.reported"),
    # physical alarms, failed logons, partner windows, missed probes (issue 15, checks 1-6)
    # (failed logons are streamed by their checks, never cached: most of a busy quarter)
    *("physical.alarm", "physical.tamper", "physical.denied"),
    *("review.alarm", "maintenance.window", "probe.missed"),
)
WIDEN = 1.0  # seconds: stored times compare as text, so SQL bounds are widened, then exact


@lru_cache(maxsize=8192)
def _day(date: str) -> int:
    return date_type.fromisoformat(date).toordinal() - _EPOCH_ORDINAL


def epoch(text: str) -> float:
    """Epoch seconds of an RFC 3339 UTC time (``...Z``) with up to 9 fractional digits."""
    try:
        if text[-1:] not in ("Z", "z") or text[10:11] not in ("T", "t"):
            raise ValueError(text)
        base = _day(text[:10]) * 86400 + int(text[11:13]) * 3600 + int(text[14:16]) * 60
        base += int(text[17:19])
    except (ValueError, IndexError):
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}") from None
    return base + float(text[19:-1]) if text[19:20] == "." else float(base)


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a bulk read builds many small objects that
    hold no reference cycles (parsed JSON, tuples): each full collection walks every object
    alive, and a read growing the heap by a few million objects triggers several. Nothing is
    leaked: reference counting frees as usual, cycles wait for the next collection. A caller
    that disabled the collector keeps it disabled."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def when(seconds: float) -> str:
    """A time for people (reasons, tables): RFC 3339 UTC to the second (times beyond what a
    calendar date can hold, from arithmetic on an absurd input, are said as such)."""
    try:
        return datetime.fromtimestamp(int(seconds // 1), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return "after 9999-12-31T23:59:59Z" if seconds > 0 else "before 0001-01-01T00:00:00Z"


def iso(seconds: float) -> str:
    t = datetime.fromtimestamp(seconds, UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True, slots=True)
class LogSlice:
    """One log of a campus assessment: its origin, a reader on one snapshot, the size judged."""

    origin: str
    reader: LogReader
    tree_size: int


@dataclass(frozen=True, slots=True)
class Ev:
    """One stored entry as a check sees it."""

    index: int
    leaf: str  # leaf hash, hex
    t: float  # epoch seconds
    rec: Mapping[str, Any]
    origin: str | None = None  # the log's origin in a campus assessment (None: one log)

    @property
    def ref(self) -> EvidenceRef:
        return EvidenceRef(self.index, self.leaf, self.origin)

    @property
    def key(self) -> tuple[str, int]:
        """The entry's identity across logs, ``(origin, index)``: what checks key dicts by and
        sort by (with one log every key has the same origin, so index order)."""
        return (self.origin or "", self.index)

    @property
    def kind(self) -> str:
        return str(self.rec["kind"])

    @property
    def scope(self) -> tuple[str, ...]:
        return tuple(self.rec.get("scope") or ())

    def get(self, *path: str) -> Any:
        v: Any = self.rec
        for p in path:
            if type(v) is not dict:  # entries are parsed JSON: plain dicts (fast check)
                return None
            v = v.get(p)
        return v


@dataclass
class Context:
    inventory: Inventory
    raci: Raci | None
    catalogue: Catalogue
    cedar: Decider
    reader: LogReader
    tree_size: int  # the snapshot's size: entries at or above it are not evidence
    start: float
    end: float
    as_of: float  # when the assessment is judged: min(end, evaluated_at)
    evaluated_at: float
    lookback: float  # seconds before start that checks may look at (grants, snapshots, probes)
    matrix: Any = None  # edgeaudit.policy.isolation.IsolationMatrix, when policies have one
    matrix_error: str | None = None
    verify: Callable[[], VerifyReport] | None = None  # whole-store verification, when keyed
    last_index_in_period: int = -1
    sources: Sequence[str] = ()  # source kinds that contributed entries
    activity: str | None = None  # the RACI activity of the rule being evaluated
    # a campus assessment: the origin of ``reader``'s log, set on every Ev read through it
    # (None: a single-log assessment, whose citations carry no origin)
    origin: str | None = None
    # a campus assessment's event context: every log judged (``reader`` and ``tree_size`` are
    # then the central log's); events, stream and log_rows read them all
    logs: Sequence[LogSlice] = ()
    # ``reader``'s log is a mirrored pod's: its checkpoints are the pod's, held by the mirror
    # (``signed_at`` is when the mirror held them)
    mirrored: bool = False
    # a campus assessment's per-log context: its ``events`` are the campus context's entries of
    # this log (read once for all checks; in time order), not a second read of the log
    parent: Context | None = None

    def __post_init__(self) -> None:
        self._cache: dict[tuple[str, bool], list[Ev]] = {}
        self._prefetched = False
        self._memo: dict[str, Any] = {}

    def has_memo(self, key: str) -> bool:
        return key in self._memo

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per assessment: views several checks share (grants, probe runs)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def events(self, *kinds: str, lookback: bool = False) -> list[Ev]:
        """Entries of ``kinds`` in the period (from ``start - lookback`` when asked, that window
        closed at the end: a snapshot taken at the end counts), in index order.

        The first call reads every kind of :data:`PREFETCH` in one pass over the store (the
        entries table has no kind index: one scan instead of one per kind); other kinds are
        read when first asked for."""
        if self.parent is not None:
            return [
                e for e in self.parent.events(*kinds, lookback=lookback) if e.origin == self.origin
            ]
        if not self._prefetched:
            self._prefetched = True
            self._fill(PREFETCH)
        missing = [k for k in kinds if (k, lookback) not in self._cache]
        if missing:
            self._fill(missing)
        if len(kinds) == 1:
            return self._cache[(kinds[0], lookback)]
        merged = [e for k in kinds for e in self._cache[(k, lookback)]]
        merged.sort(key=_campus_order if self.logs else _index_order)
        return merged

    def _fill(self, kinds: Sequence[str]) -> None:
        for k in kinds:
            self._cache[(k, True)] = []
            self._cache[(k, False)] = []
        start, end = self.start, self.end
        with paused_gc():
            for ev in self._load(kinds, start - self.lookback, end, closed=True):
                self._cache[(ev.kind, True)].append(ev)
                if start <= ev.t < end:
                    self._cache[(ev.kind, False)].append(ev)
            if self.logs:  # across pods, index order is not arrival order
                for k in kinds:
                    self._cache[(k, True)].sort(key=_campus_order)
                    self._cache[(k, False)].sort(key=_campus_order)

    def stream(self, *kinds: str) -> Iterator[Ev]:
        """Entries of ``kinds`` in the period, in index order, read without caching (for the
        bulk kinds a single check reads, e.g. key use). A campus: log after log."""
        return self._load(kinds, self.start, self.end)

    def rows(self, *kinds: str) -> Iterator[tuple[int, bytes, float, dict[str, Any]]]:
        """(index, leaf hash, time, record) of the entries :meth:`stream` yields, without
        building an :class:`Ev` per entry: for a bulk scan that keeps a few fields of each
        (the record is parsed whole, its ``provenance`` left in; make an ``Ev`` to cite one).
        One log only: a campus assessment refuses it (an index alone names no entry there),
        so a check using it is not evaluated; use :meth:`log_rows`."""
        if self.logs:
            raise TypeError("Context.rows names no log in a campus assessment: use log_rows")
        for _origin, idx, leaf, t, rec in self.log_rows(*kinds):
            yield idx, leaf, t, rec

    def log_rows(
        self, *kinds: str
    ) -> Iterator[tuple[str | None, int, bytes, float, dict[str, Any]]]:
        """(origin, index, leaf hash, time, record): :meth:`rows` with the origin of each
        entry's log (None in a single-log assessment; ``Ev(..., origin)`` cites it)."""
        lo, hi, loads = self.start, self.end, orjson.loads
        for origin, reader, size in self._slices():
            for idx, body, leaf in reader.select(kinds, iso(lo - WIDEN), iso(hi + WIDEN), size):
                rec = loads(body)
                t = epoch(rec["time"])
                if lo <= t < hi:
                    yield origin, idx, leaf, t, rec

    def _slices(self) -> list[tuple[str | None, LogReader, int]]:
        if self.logs:
            return [(s.origin, s.reader, s.tree_size) for s in self.logs]
        return [(self.origin, self.reader, self.tree_size)]

    def _load(
        self, kinds: Sequence[str], lo: float, hi: float, closed: bool = False
    ) -> Iterator[Ev]:
        loads = orjson.loads
        for origin, reader, size in self._slices():
            for idx, body, leaf in reader.select(kinds, iso(lo - WIDEN), iso(hi + WIDEN), size):
                rec = loads(body)
                rec.pop("provenance", None)  # no check reads it; it is most of an entry's size
                t = epoch(rec["time"])
                if lo <= t < hi or (closed and t == hi):
                    yield Ev(idx, leaf.hex(), t, rec, origin)

    def in_period(self, t: float) -> bool:
        return self.start <= t < self.end

    def owner_of_asset(self, asset: str | None) -> str | None:
        if asset is None:
            return None
        a = self.inventory.asset(asset)
        return a.owner if a else None

    def arrival(self, ev: Ev) -> tuple[float, str, int]:
        """Order of entries as they came: index order in one log; across the logs of a
        campus (whose indexes are not comparable), time, then origin and index."""
        return _campus_order(ev) if self.logs else (0.0, "", ev.index)

    @staticmethod
    def tenant_of(owner: str | None) -> str | None:
        return owner if owner not in (None, "shared", "") else None


def _index_order(ev: Ev) -> int:
    return ev.index


def _campus_order(ev: Ev) -> tuple[float, str, int]:
    return (ev.t, ev.origin or "", ev.index)
