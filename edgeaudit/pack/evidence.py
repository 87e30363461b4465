"""One pass over the log: prove the tree, choose the pack's entries, write evidence and proofs.

Reads entries ``0 .. size-1`` once from one snapshot (:class:`~edgeaudit.store.reader.LogReader`),
re-hashes each (a damaged store is refused, not packed), keeps every leaf hash in a
:class:`LevelTree` (32 bytes per entry) and writes the chosen entries to ``evidence.jsonl`` as
it goes; then one multi-proof of the chosen entries comes from the tree, in memory.
Memory: the tree plus one index per chosen entry, whatever the number of events.
"""

from __future__ import annotations

import copy
import hashlib
import multiprocessing
import os
from array import array
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson

from edgeaudit.canonical import canonical_json, leaf_hash
from edgeaudit.errors import InputError, TamperError
from edgeaudit.events import parse_utc_time
from edgeaudit.pack.charts import heat_merge, heat_state
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView, entry_scope
from edgeaudit.pack.tree import LevelTree
from edgeaudit.store.reader import LogReader
from edgeaudit.verify.pack_format import evidence_line, multiproof_line


@dataclass
class Stats:
    """Figures the report shows, gathered during the pass (labels already redacted)."""

    kinds: Counter[str] = field(default_factory=Counter)
    key_use: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    weeks: dict[str, list[int]] = field(default_factory=dict)  # week -> [sessions, with grant]
    probes: dict[tuple[str, str], str] = field(default_factory=dict)  # latest verdict per pair
    pipeline_gaps: int = 0
    full: int = 0
    redacted: int = 0
    times: dict[int, str] = field(default_factory=dict)  # cited index -> time
    # source -> [entries, first, last epoch seconds] of the entries in the pack
    sources: dict[str, list[int]] = field(default_factory=dict)
    # (vantage, segment) -> the latest run's [time, run id, [(path, expected, verdict)]]
    probe_paths: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    controls_ok: dict[str, bool] = field(default_factory=dict)  # probe run id -> controls


@dataclass(frozen=True)
class EvidenceResult:
    root: bytes
    entries: int
    digests: dict[str, dict[str, Any]]  # file name -> {"sha256", "size"}, hashed as written
    first_index: int | None
    last_index: int | None
    stats: Stats


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _HashingFile:
    """A file opened for writing that hashes what it writes (a 1 M pack writes 1.4 GB: reading
    it back just to hash it would cost seconds)."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("wb")
        self._sha = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._sha.update(data)
        self._size += len(data)

    def digest(self) -> dict[str, Any]:
        return {"sha256": self._sha.hexdigest(), "size": self._size}

    def __enter__(self) -> _HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


_NO_SCOPE: list[str] = []  # a site pack shows every entry in full: scopes are not needed
_OBSERVED = frozenset({"session.start", "key.use", "probe.run", "probe.result", "audit.pipeline"})


def _week(seconds: int) -> str:
    day = datetime.fromtimestamp(seconds, UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def _str(value: Any, default: str = "?") -> str:
    return value if isinstance(value, str) and value else default


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _observe(stats: Stats, view: TenantView, entry: dict[str, Any], seconds: int) -> None:
    kind = _str(entry.get("kind"))
    if kind == "session.start":
        attrs = _obj(entry.get("attrs"))
        granted = "grant" in entry or bool(attrs.get("access_requests"))
        week = stats.weeks.setdefault(_week(seconds), [0, 0])
        week[0] += 1
        week[1] += granted
    elif kind == "key.use":
        key = _obj(entry.get("key"))
        actor = _obj(entry.get("actor"))
        owner = view.redact_text(_str(key.get("owner"), "unresolved"))
        user = view.redact_text(_str(actor.get("tenant"), _str(actor.get("org"), "unknown")))
        stats.key_use[(owner, user, _str(entry.get("outcome")))] += 1
    elif kind == "probe.result":
        attrs = _obj(entry.get("attrs"))
        src, dst = attrs.get("vantage"), attrs.get("segment")
        if isinstance(src, str) and isinstance(dst, str):
            state = heat_state(_str(attrs.get("verdict")), _str(attrs.get("expected")))
            pair = (view.redact_text(src), view.redact_text(dst))
            stats.probes[pair] = heat_merge(stats.probes.get(pair), state)
    elif kind == "probe.run":
        attrs = _obj(entry.get("attrs"))
        stats.controls_ok[_str(attrs.get("run"))] = attrs.get("controls_ok") is True
    elif kind == "audit.pipeline":
        stats.pipeline_gaps += 1
    if kind == "probe.result":
        _probe_path(stats, view, entry, seconds)


def _probe_path(stats: Stats, view: TenantView, entry: dict[str, Any], seconds: int) -> None:
    """The latest run's paths per segment pair, with ports and verdicts, for the report."""
    attrs = _obj(entry.get("attrs"))
    src, dst = attrs.get("vantage"), attrs.get("segment")
    if not (isinstance(src, str) and isinstance(dst, str)):
        return
    pair = (view.redact_text(src), view.redact_text(dst))
    run = _str(attrs.get("run"))
    have = stats.probe_paths.get(pair)
    if have is None or (seconds, run) > (have[0], have[1]):
        have = stats.probe_paths[pair] = [seconds, run, []]
    elif (seconds, run) != (have[0], have[1]):
        return  # an older run of the pair
    port = attrs.get("port")
    path = f"{_str(attrs.get('protocol'))}{'' if port is None else f'/{port}'} at " + (
        view.redact_text(_str(attrs.get("address")))
    )
    have[2].append((path, _str(attrs.get("expected")), _str(attrs.get("verdict"))))


def _source_seen(stats: Stats, entry: dict[str, Any], seconds: int) -> None:
    source = entry.get("source")
    name = source if isinstance(source, str) and source else "(no source)"
    s = stats.sources.get(name)
    if s is None:
        stats.sources[name] = [1, seconds, seconds]
    else:
        s[0] += 1
        if seconds < s[1]:
            s[1] = seconds
        if seconds > s[2]:
            s[2] = seconds


PARALLEL_MIN = 200_000  # logs at least this large are read by two processes (two halves)


def _scan(
    rows: Iterator[tuple[int, bytes, bytes, bytes]],
    first: int,
    stop: int,
    period: Period,
    view: TenantView,
    cited: Collection[int],
    out: _Sink,
    site_wide_records: Collection[int] = frozenset(),
) -> tuple[bytearray, array[int], Stats]:
    """Entries ``first .. stop-1``: re-hash each, choose, write the chosen lines to ``out``.
    Returns the leaf hashes (32 bytes each), the chosen indices and the report figures."""
    leaves = bytearray()
    chosen: array[int] = array("q")
    stats = Stats()
    kinds = stats.kinds
    loads = orjson.loads
    site = view.tenant is None
    start, end = period.start, period.end
    observed = _OBSERVED
    pending: list[bytes] = []
    expected = first
    for index, body, stored_leaf, _chain in rows:
        if index >= stop:
            break
        leaf = leaf_hash(body)
        if leaf != stored_leaf:
            raise TamperError(
                f"entry {index}: its bytes hash to {leaf.hex()} but the store records "
                f"{stored_leaf.hex()}; run `edgeaudit verify`"
            )
        if index != expected:
            raise TamperError(f"entry {expected} is missing from the store")
        expected += 1
        leaves += leaf
        entry = loads(body)
        seconds = parse_utc_time(entry.get("time"))[1]
        scope = _NO_SCOPE if site else entry_scope(entry)
        is_cited = index in cited
        if not ((start <= seconds < end and (site or view.wants(scope))) or is_cited):
            continue
        chosen.append(index)
        if is_cited:
            stats.times[index] = entry.get("time")
        kind = entry.get("kind")
        kinds[kind if isinstance(kind, str) else "?"] += 1
        if (
            site
            or view.full(scope, body.decode("utf-8"))
            or _full_record(view, index, scope, body, site_wide_records)
        ):
            pending.append(evidence_line(index, leaf, body))
            stats.full += 1
            _source_seen(stats, entry, seconds)
            if kind in observed:
                _observe(stats, view, entry, seconds)
        else:
            record = {
                "index": index,
                "leaf_hash": leaf.hex(),
                "redacted": view.redacted(entry, scope),
            }
            pending.append(canonical_json(record) + b"\n")
            stats.redacted += 1
            if kind in ("probe.run", "probe.result"):
                # a probe of the tenant's segments from another tenant's (or the reverse): its
                # heat-map cell and paths, under neutral labels, are the tenant's evidence too
                _observe(stats, view, entry, seconds)
        if len(pending) >= 2048:
            out.write(b"".join(pending))
            pending.clear()
    out.write(b"".join(pending))
    if expected != stop:
        raise TamperError(f"entry {expected} is missing from the store")
    return leaves, chosen, stats


def _full_record(
    view: TenantView, index: int, scope: list[str], body: bytes, records: Collection[int]
) -> bool:
    """The recorded result of a site-wide rule (store integrity, RACI structure) the tenant
    sees: in full when it names no other tenant, so its status is bound by its bytes."""
    return index in records and scope == [] and not view.names_other_tenant(body.decode())


def _scan_part(
    db_url: str,
    origin: str,
    first: int,
    stop: int,
    period: Period,
    view: TenantView,
    cited: frozenset[int],
    part: str,
    site_wide_records: frozenset[int] = frozenset(),
) -> tuple[bytes, bytes, Stats]:
    """The second process's half: its own connection, entries ``first .. stop-1``."""
    from edgeaudit.store import Store

    with (
        Store.open(db_url) as store,
        store.log(origin).reader() as reader,
        Path(part).open("wb") as out,
    ):
        leaves, chosen, stats = _scan(
            reader.iter_entries(first), first, stop, period, view, cited, out, site_wide_records
        )
    return bytes(leaves), chosen.tobytes(), stats


def _merge(a: Stats, b: Stats) -> Stats:
    """Figures of two consecutive halves (b after a)."""
    a.kinds.update(b.kinds)
    a.key_use.update(b.key_use)
    for week, (n, g) in b.weeks.items():
        w = a.weeks.setdefault(week, [0, 0])
        w[0] += n
        w[1] += g
    for pair, state in b.probes.items():
        a.probes[pair] = heat_merge(a.probes.get(pair), state)
    for pair, latest in b.probe_paths.items():
        have = a.probe_paths.get(pair)
        if have is None or (latest[0], latest[1]) > (have[0], have[1]):
            a.probe_paths[pair] = latest
        elif (latest[0], latest[1]) == (have[0], have[1]):
            have[2].extend(latest[2])
    a.controls_ok.update(b.controls_ok)
    for name, (n, lo, hi) in b.sources.items():
        s = a.sources.setdefault(name, [0, lo, hi])
        s[0] += n
        s[1], s[2] = min(s[1], lo), max(s[2], hi)
    a.pipeline_gaps += b.pipeline_gaps
    a.full += b.full
    a.redacted += b.redacted
    a.times.update(b.times)
    return a


def merge_stats(parts: Sequence[Stats]) -> Stats:
    """The figures of ``parts`` summed, in order (copies: ``parts`` are left as they are)."""
    out = Stats()
    for part in parts:
        _merge(out, copy.deepcopy(part))
    return out


def write_evidence(
    reader: LogReader,
    size: int,
    expected_root: bytes,
    period: Period,
    view: TenantView,
    cited: Collection[int],
    evidence_path: Path,
    proofs_path: Path,
    *,
    source: tuple[str, str] | None = None,
    site_wide_records: Collection[int] = frozenset(),
) -> EvidenceResult:
    """``source`` (database URL, log origin) lets a second process read the second half of a
    large log; entries below the checkpoint's size never change, so both see the same bytes."""
    tree = LevelTree()
    workers = int(os.environ.get("EDGEAUDIT_PACK_WORKERS", "2"))
    parallel = source is not None and size >= PARALLEL_MIN and workers > 1
    mid = size // 2 if parallel else size
    with _HashingFile(evidence_path) as out:
        if parallel:
            assert source is not None
            part = evidence_path.with_name(evidence_path.name + ".part")
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                later = frozenset(i for i in cited if i >= mid)
                job = pool.submit(
                    _scan_part,
                    source[0],
                    source[1],
                    mid,
                    size,
                    period,
                    view,
                    later,
                    str(part),
                    frozenset(i for i in site_wide_records if i >= mid),
                )
                leaves, chosen, stats = _scan(
                    reader.iter_entries(0), 0, mid, period, view, cited, out, site_wide_records
                )
                leaves2, chosen2, stats2 = job.result()
            with part.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    out.write(chunk)
            part.unlink()
            leaves += leaves2
            chosen.frombytes(chosen2)
            stats = _merge(stats, stats2)
        else:
            leaves, chosen, stats = _scan(
                reader.iter_entries(0), 0, size, period, view, cited, out, site_wide_records
            )
    out_digest = out.digest()
    tree.extend_bytes(leaves)
    del leaves
    if tree.size != size:
        raise TamperError(f"the store holds {tree.size} entries, the checkpoint says {size}")
    root = tree.freeze()
    if root != expected_root:
        raise TamperError(
            f"the stored entries hash to root {root.hex()}, the checkpoint of size {size} "
            f"says {expected_root.hex()}; run `edgeaudit verify`"
        )
    missing = set(cited) - set(stats.times)
    if missing:
        raise InputError(
            f"the findings cite entries not in the log of size {size}: "
            + ", ".join(map(str, sorted(missing)[:10]))
        )
    with _HashingFile(proofs_path) as proofs_out:
        proofs_out.write(multiproof_line(tree.multiproof(chosen)))
    return EvidenceResult(
        root,
        len(chosen),
        {evidence_path.name: out_digest, proofs_path.name: proofs_out.digest()},
        chosen[0] if chosen else None,
        chosen[-1] if chosen else None,
        stats,
    )
