"""The figures of a campus pack's ``report.pdf``: campus-wide, with a breakdown per log.

Each part's evidence pass (:func:`edgeaudit.pack.evidence.write_evidence`) gathers its
:class:`~edgeaudit.pack.evidence.Stats`; the campus builder keeps them (no second pass over any
log) and the report sums them here: the campus-wide figures are the sum over the central log
and every pod part, and each table says how much of it each log holds. A segment is one site's
(two pods may both name one ``cde``), so in a campus report every probed segment is named with
its log's site (``pod-a: cde``). Cited entries' times come from the part of the log each
citation names. These figures are not signed data: the report computes them from the files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from edgeaudit.pack.evidence import Stats, merge_stats
from edgeaudit.pack.mirrored import pod_site
from edgeaudit.pack.report_context import when


@dataclass(frozen=True)
class LogFigures:
    """One log's figures in a campus pack: its part (``""`` for the central log, else
    ``p<k>``), its origin, and the figures its evidence pass gathered."""

    part: str
    origin: str
    stats: Stats

    @property
    def site(self) -> str:
        return pod_site(self.origin)

    @property
    def label(self) -> str:
        return f"{self.site} ({self.part})" if self.part else f"{self.site} (central log)"


def _sited(stats: Stats, site: str) -> Stats:
    """``stats`` with its probed segments named with ``site`` (shallow: merge_stats copies)."""

    def pair(p: tuple[str, str]) -> tuple[str, str]:
        return (f"{site}: {p[0]}", f"{site}: {p[1]}")

    return replace(
        stats,
        probes={pair(p): s for p, s in stats.probes.items()},
        probe_paths={pair(p): v for p, v in stats.probe_paths.items()},
        times={},  # indices of different logs: never looked up in the sum
    )


def campus_stats(logs: Sequence[LogFigures]) -> Stats:
    """The campus-wide figures: every log's summed (segments named with their log's site)."""
    return merge_stats([_sited(log.stats, log.site) for log in logs])


def _span(stats: Stats) -> tuple[str, str]:
    spans = list(stats.sources.values())
    if not spans:
        return ("-", "-")
    return (when(min(s[1] for s in spans)), when(max(s[2] for s in spans)))


def per_log(logs: Sequence[LogFigures], total: Stats) -> list[dict[str, Any]]:
    """One row per log, then the campus: entries in the pack, shown redacted, the first and
    last time of the entries shown in full, collection gaps recorded."""
    rows = []
    for log in [*logs, None]:
        stats = total if log is None else log.stats
        first, last = _span(stats)
        rows.append(
            {
                "log": "campus (every log)" if log is None else log.label,
                "origin": "" if log is None else log.origin,
                "entries": sum(stats.kinds.values()),
                "redacted": stats.redacted,
                "first": first,
                "last": last,
                "gaps": stats.pipeline_gaps,
            }
        )
    return rows


def kinds_by_log(logs: Sequence[LogFigures]) -> list[tuple[str, int, list[int]]]:
    """Each kind of entry: the campus's count, and each log's (in the order of ``logs``)."""
    kinds = sorted({k for log in logs for k in log.stats.kinds})
    return [
        (k, sum(log.stats.kinds[k] for log in logs), [log.stats.kinds[k] for log in logs])
        for k in kinds
    ]


def sources_by_log(logs: Sequence[LogFigures]) -> list[tuple[str, str, int, str, str]]:
    """Each log's sources: (log, source, entries, first, last)."""
    return [
        (log.site, name, n, when(lo), when(hi))
        for log in logs
        for name, (n, lo, hi) in sorted(log.stats.sources.items())
    ]


def key_rows_by_log(
    logs: Sequence[LogFigures],
) -> list[tuple[tuple[str, str, str], int, str]]:
    """Key uses per (owner, user, outcome): the campus's count and each log's that has any."""
    per: dict[tuple[str, str, str], Counter[str]] = {}
    for log in logs:
        for key, n in log.stats.key_use.items():
            per.setdefault(key, Counter())[log.site] += n
    return [
        (key, sum(c.values()), "; ".join(f"{site} {n}" for site, n in c.items()))
        for key, c in sorted(per.items())
    ]


def context(logs: Sequence[LogFigures]) -> dict[str, Any]:
    """What the campus templates add: the campus-wide ``stats`` the other sections show, and
    the per-log tables."""
    total = campus_stats(logs)
    return {
        "stats": total,
        "campus_logs": [log.site for log in logs],
        "per_log": per_log(logs, total),
        "kinds_by_log": kinds_by_log(logs),
        "sources_by_log": sources_by_log(logs),
        "key_rows_by_log": key_rows_by_log(logs),
    }


def by_origin(logs: Sequence[LogFigures]) -> Mapping[str, Stats]:
    """origin -> its part's figures (whose ``times`` hold the entries its citations name)."""
    return {log.origin: log.stats for log in logs}
