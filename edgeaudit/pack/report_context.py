"""What each section of ``report.pdf`` shows, computed from the pack's own files (the
assessment document, the evidence figures, the inventory): plain values for the templates.

Sections, in order: cover, summary, exceptions register, scope and system description,
controls framework by framework (test procedure and population per rule), segmentation, JIT /
keys / physical access / RACI, management assertion, appendix (passing results, evidence
index, how to verify). Every result is quoted by its id, every entry by ``E-<index>``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.pack.evidence import Stats
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.statuses import CONTROL_STATUSES, FAIL, WAIVED

SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
TOP_EXCEPTIONS: Final = 8
EVIDENCE_SHOWN: Final = 8
CONTROL_WORDS: Final = {
    "satisfied": "satisfied",
    "satisfied-with-exceptions": "satisfied with exceptions",
    "supported": "supported",
    "supported-with-exceptions": "supported with exceptions",
    "not-satisfied": "not satisfied",
    "not-evaluated": "not evaluated",
}


def ref(index: int, origin: str | None = None) -> str:
    """An entry's stable reference, as the report and an auditor quote it: ``E-<index>``; in
    a campus pack, where every citation names its log, ``<site> E-<index>`` (the site the last
    path segment of the log's origin)."""
    if origin is None:
        return f"E-{index}"
    from edgeaudit.pack.mirrored import pod_site

    return f"{pod_site(origin)} E-{index}"


Key = tuple[str | None, int]  # an entry as a citation names it: (origin or None, index)


def _key(e: Mapping[str, Any]) -> Key:
    origin = e.get("origin")
    return (origin if isinstance(origin, str) else None, int(e["index"]))


def _order(key: Key) -> tuple[str, int]:
    return (key[0] or "", key[1])


def _time(
    stats: Stats, key: Key, central: str | None, pods: Mapping[str, Stats] | None = None
) -> str | None:
    """The cited entry's time, as the pass over its log read it: ``stats`` of the log the
    pack was written from (a campus pack: the central part), ``pods`` of each pod part by
    origin; an entry of another log has none."""
    origin, index = key
    if origin is not None and origin != central:
        part = (pods or {}).get(origin)
        if part is None:
            return None
        stats = part
    t = stats.times.get(index)
    return None if t is None else str(t)


def anchor(result_id: str) -> str:
    return f"exc-{result_id}"


def when(seconds: int) -> str:
    """POSIX seconds as the report writes a time (UTC, to the second)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _sev(r: Mapping[str, Any]) -> int:
    s = r.get("severity")
    return SEVERITIES.index(s) if s in SEVERITIES else len(SEVERITIES)


def _scope_words(scope: Any) -> str:
    if not isinstance(scope, Mapping) or not scope:
        return "site"
    return "; ".join(f"{k} {v}" for k, v in scope.items() if v)


def _owners(raci: Sequence[Mapping[str, Any]] | None) -> dict[str, str]:
    """activity -> "R: ...; A: ..." from the RACI rows the pack was given."""
    out: dict[str, str] = {}
    for row in raci or ():
        activity = str(row.get("activity", ""))
        text = f"R: {row.get('R') or '-'}; A: {row.get('A') or '-'}"
        out[activity] = f"{out[activity]} / {text}" if activity in out else text
    return out


def exceptions(
    doc: Mapping[str, Any],
    stats: Stats,
    raci: Sequence[Mapping[str, Any]] | None,
    remediated: Mapping[str, str] | None = None,
    central: str | None = None,
    pods: Mapping[str, Stats] | None = None,
) -> list[dict[str, Any]]:
    """The exceptions register: every failing and waived result, by severity, then control.
    State: accepted (a waiver), remediated after the period (a later recorded assessment passed
    it), else open."""
    owners = _owners(raci)
    rows = []
    for r in doc["results"]:
        if r.get("status") not in (FAIL, WAIVED):
            continue
        evidence = [_key(e) for e in r.get("evidence", [])]
        times = sorted(t for k in evidence if (t := _time(stats, k, central, pods)) is not None)
        waiver = r.get("waiver") if isinstance(r.get("waiver"), Mapping) else None
        if waiver:
            state = (
                f"accepted: waiver {waiver.get('id')}, approved by {waiver.get('approver')}, "
                f"risk {waiver.get('risk')}, until {waiver.get('expires')}"
            )
        else:
            state = (remediated or {}).get(str(r["id"]), "open")
        rows.append(
            {
                "id": r["id"],
                "anchor": anchor(str(r["id"])),
                "rule": r.get("rule"),
                "title": r.get("title"),
                "status": r["status"],
                "severity": r.get("severity"),
                "controls": list(r.get("controls", [])),
                "where": _scope_words(r.get("scope")),
                "when": (
                    times[0][:19] + "Z"
                    if len(times) == 1
                    else f"{times[0][:19]}Z to {times[-1][:19]}Z"
                )
                if times
                else "-",
                "reason": r.get("reason"),
                "refs": [ref(i, o) for o, i in evidence[:EVIDENCE_SHOWN]],
                "more": max(0, len(evidence) - EVIDENCE_SHOWN),
                "owner": owners.get(str(r.get("activity") or ""), "-"),
                "state": state,
            }
        )
    rows.sort(key=lambda x: (_sev(x), x["controls"][:1], x["id"]))
    return rows


def summary(doc: Mapping[str, Any], register: list[dict[str, Any]]) -> dict[str, Any]:
    by_fw: dict[str, Counter[str]] = defaultdict(Counter)
    for c in doc.get("controls", []):
        by_fw[str(c.get("framework"))][str(c.get("status"))] += 1
    severity: dict[str, Counter[str]] = {s: Counter() for s in SEVERITIES}
    for x in register:
        severity.setdefault(str(x["severity"]), Counter())[str(x["status"])] += 1
    return {
        "frameworks": [
            (fw, [(s, counts.get(s, 0)) for s in CONTROL_STATUSES])
            for fw, counts in sorted(by_fw.items())
        ],
        "statuses": [CONTROL_WORDS[s] for s in CONTROL_STATUSES],
        "severity": [(s, c.get(FAIL, 0), c.get(WAIVED, 0)) for s, c in severity.items() if c],
        "top": register[:TOP_EXCEPTIONS],
        "more": max(0, len(register) - TOP_EXCEPTIONS),
    }


def controls(doc: Mapping[str, Any], stats: Stats) -> list[tuple[str, list[dict[str, Any]]]]:
    """Framework by framework: each control, its status, the results it rolls up with each
    rule's test procedure and population, and the evidence cited."""
    rules = {str(r.get("id")): r for r in doc.get("rules", []) if isinstance(r, Mapping)}
    results = {str(r["id"]): r for r in doc["results"]}
    a = doc["assessment"]
    cp = a.get("checkpoint") if isinstance(a.get("checkpoint"), Mapping) else None
    against = (
        f"the signed checkpoint of size {cp.get('tree_size')}, root {cp.get('root_hash')}"
        if cp
        else f"the log's first {a.get('tree_size')} entries (no signed checkpoint of that size)"
    )
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in doc.get("controls", []):
        rolled = [results[i] for i in c.get("results", []) if i in results]
        tests = []
        for rule_id in dict.fromkeys(str(r.get("rule")) for r in rolled):
            rule = rules.get(rule_id, {})
            mine = [r for r in rolled if r.get("rule") == rule_id]
            tests.append(
                {
                    "rule": rule_id,
                    "title": rule.get("title") or (mine[0].get("title") if mine else rule_id),
                    "procedure": rule.get("procedure") or "",
                    "population": (
                        f"{rule.get('population') or 'the entries the rule reads'}, from "
                        f"{a.get('from')} to {a.get('to')} (end exclusive), "
                        f"{'tenant ' + str(a['tenant']) if a.get('tenant') else 'the whole site'}"
                        f", against {against}; all of them, not a sample"
                    ),
                    "params": ", ".join(
                        f"{k} {_param(v)}" for k, v in sorted((rule.get("params") or {}).items())
                    ),
                    "results": [
                        {
                            "id": r["id"],
                            "status": r["status"],
                            "where": _scope_words(r.get("scope")),
                            "anchor": anchor(str(r["id"]))
                            if r["status"] in (FAIL, WAIVED)
                            else None,
                        }
                        for r in mine
                    ],
                }
            )
        cited = sorted({_key(e) for r in rolled for e in r.get("evidence", [])}, key=_order)
        out[str(c.get("framework"))].append(
            {
                "control": c.get("control"),
                "title": c.get("title"),
                "status": c.get("status"),
                "words": CONTROL_WORDS.get(str(c.get("status")), str(c.get("status"))),
                "note": c.get("note"),
                "tests": tests,
                "refs": [ref(i, o) for o, i in cited[:EVIDENCE_SHOWN]],
                "more": max(0, len(cited) - EVIDENCE_SHOWN),
            }
        )
    return sorted(out.items())


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and value >= 60 and value % 60 == 0:
        for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
            if value % n == 0:
                return f"{value // n} {unit}"
    if isinstance(value, list):
        return "[" + "; ".join(_param(v) for v in value) + "]" if value else "none"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} {_param(v)}" for k, v in value.items()) + "}"
    return str(value)


def system(
    inventory: Inventory | None,
    view: TenantView,
    stats: Stats,
    doc: Mapping[str, Any] | None,
    quarantine: Sequence[tuple[str, str, int]] | None,
) -> dict[str, Any]:
    """Scope and system description: who and what the pack covers, and its sources."""
    out: dict[str, Any] = {
        "sources": [
            (name, n, when(lo), when(hi)) for name, (n, lo, hi) in sorted(stats.sources.items())
        ],
        "quarantine": list(quarantine or ()),
        "policy_files": [],
        "engine": None,
    }
    if doc is not None:
        a = doc["assessment"]
        files = a.get("policy_files")
        out["policy_files"] = sorted(files.items()) if isinstance(files, Mapping) else []
        out["engine"] = a.get("engine")
        out["policy_digest"] = a.get("policy_digest")
    if inventory is None:
        return out
    mine = view.tenant

    def visible(owner: str) -> bool:
        return mine is None or owner in (mine, "shared")

    out["site"] = inventory.site
    out["timezone"] = inventory.timezone
    out["tenants"] = [(t.id, t.name) for t in inventory.tenants if mine is None or t.id == mine]
    out["segments"] = [  # every prefix: a dual-stack segment has an IPv4 and an IPv6 one
        (s.id, s.owner, ", ".join(str(n) for n in s.prefixes))
        for s in inventory.segments
        if visible(s.owner)
    ]
    assets: dict[str, list[str]] = defaultdict(list)
    for asset in inventory.assets:
        if visible(asset.owner):
            assets[asset.kind].append(f"{asset.hostname} ({asset.owner})")
    out["assets"] = sorted(assets.items())
    parties: dict[str, list[str]] = defaultdict(list)
    for p in inventory.principals:
        if mine is None or p.org != "tenant" or p.tenant == mine:
            who = f"{p.id} ({', '.join(p.roles) or 'no role'})"
            parties[p.org if p.org != "tenant" else f"tenant {p.tenant}"].append(who)
    out["principals"] = sorted(parties.items())
    return out


def segmentation(stats: Stats) -> list[dict[str, Any]]:
    """Each probed segment pair: its latest run, positive controls, paths (leaks first)."""
    rows = []
    order = {"open": 0, "unreachable": 1, "error": 2, "blocked": 3, "pass": 3}
    for (src, dst), (seconds, run, paths) in sorted(stats.probe_paths.items()):
        from edgeaudit.pack.charts import heat_state

        marked = sorted(
            ((heat_state(v, e), p, e, v) for p, e, v in paths), key=lambda x: (order[x[0]], x[1])
        )
        rows.append(
            {
                "pair": f"{src} -> {dst}",
                "state": stats.probes.get((src, dst), "-"),
                "when": when(int(seconds)),
                "run": run,
                "controls": stats.controls_ok.get(run),
                "leaks": [p for s, p, _, _ in marked if s == "open"],
                "paths": [(s, p, e, v) for s, p, e, v in marked],
            }
        )
    return rows


def jit_split(doc: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Sessions as the engine judged them: by grant, by access policy, break-glass, not
    covered (summed over the jit-session-covered results)."""
    total: Counter[str] = Counter()
    for r in doc["results"]:
        observed = r.get("observed")
        if not isinstance(observed, Mapping):
            continue
        by = observed.get("by")
        if isinstance(by, Mapping):
            for how, n in by.items():
                if isinstance(n, int):
                    total[str(how)] += n
    order = ("grant", "access policy", "break-glass", "not covered")
    return [(k, total[k]) for k in order if total.get(k)] + [
        (k, n) for k, n in sorted(total.items()) if k not in order
    ]


def evidence_index(
    doc: Mapping[str, Any],
    stats: Stats,
    central: str | None = None,
    pods: Mapping[str, Stats] | None = None,
) -> list[tuple[str, str, str, str]]:
    """Every entry a finding cites: reference, time, leaf hash, the findings citing it."""
    by_entry: dict[Key, tuple[str, list[str]]] = {}
    for r in doc["results"]:
        if r.get("status") not in (FAIL, WAIVED):
            continue  # other results' citations are listed with them (and in findings.json)
        for e in r.get("evidence", []):
            _, ids = by_entry.setdefault(_key(e), (str(e.get("leaf_hash", "")), []))
            ids.append(str(r["id"]))
    return [
        (
            ref(k[1], k[0]),
            _time(stats, k, central, pods) or "-",
            leaf,
            ", ".join(ids[:3]) + (" ..." if len(ids) > 3 else ""),
        )
        for k, (leaf, ids) in sorted(by_entry.items(), key=lambda item: _order(item[0]))
    ]
