"""A campus assessment (ADR 0018): the central workspace's own log and every mirrored pod's log,
judged as one campus.

* Which logs, at which sizes: the central log at the size given (a checkpoint signed for the
  evaluation), each ``[[mirror]]`` pod at the checkpoint the mirror holds (entries stored beyond
  it are not judged). A pod that signed an empty checkpoint the mirror verified is held at
  size 0, the empty tree (the mirror stores no size-0 checkpoint). A pod with neither is still
  listed (size 0, never synced).
* Event checks run once over all logs merged (:class:`~edgeaudit.policy.context.LogSlice`):
  joins on identity span pods; every citation names its log's origin.
* Per-log checks (:attr:`~edgeaudit.policy.registry.CheckSpec.per_log`) run once per log, their
  scope naming the log (``Scope.log``). A mirror does not copy a pod's quarantine: for a pod,
  the quarantine-reading checks adopt the pod's own recorded result of the same rule and
  period within the held size, and are not evaluated without one (never a pass from absence).
  A pod stopped by a fork fails ``integrity.store`` citing the central ``mirror.fork`` entries;
  a pod never synced fails it; a pod held at size 0 is judged as a single-log evaluation judges
  an empty log with a checkpoint of size 0 (the store verifies, the checkpoint is fresh), its
  checkpoint dated when the mirror last verified it.
* Coverage (:mod:`edgeaudit.policy.coverage`): each pod's held log is judged against the period's
  end; while a pod is not covered, no event check's result is a pass, and the pod's
  ``integrity.completeness`` gains a ``mirror-coverage`` result naming the gap. The header's
  ``coverage`` lists every pod's state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from edgeaudit.errors import EdgeauditError
from edgeaudit.policy.cedar import Decider
from edgeaudit.policy.checks._common import plural
from edgeaudit.policy.context import Context, LogSlice, epoch, iso
from edgeaudit.policy.coverage import Coverage, coverage_outcome, judge, no_pass_from_absence
from edgeaudit.policy.engine import (
    LOOKBACK,
    _result,
    assessment,
    check_request,
    run_check,
    tenant_view,
)
from edgeaudit.policy.files import Policies
from edgeaudit.policy.model import (
    FAIL,
    NOT_EVALUATED,
    PASS,
    STALE,
    STATUSES,
    WAIVED,
    Assessment,
    EvidenceRef,
    Outcome,
    Result,
    Scope,
)
from edgeaudit.policy.registry import registry
from edgeaudit.policy.rules import Rule
from edgeaudit.store.log import EvidenceLog
from edgeaudit.store.reader import LogReader
from edgeaudit.verify.report import VerifyReport

# per-log checks that read the store's quarantine, which a mirror does not copy
QUARANTINE_CHECKS: Final = frozenset({"integrity.completeness", "integrity.forged_identity"})
STORE_CHECK: Final = "integrity.store"
COMPLETENESS_CHECK: Final = "integrity.completeness"  # a pod's coverage result goes with it
FORK_KIND: Final = "mirror.fork"  # the entry mirror sync appends on a fork (edgeaudit.mirror)
RECORD_KIND: Final = "policy.result"
EMPTY_ROOT: Final = hashlib.sha256(b"").hexdigest()  # RFC 9162: the root of an empty tree


@dataclass(frozen=True, slots=True)
class PodLog:
    """A mirrored pod's log as the campus assessment judges it."""

    origin: str
    log: EvidenceLog | None  # None: the store holds no log of this origin (never synced)
    held: tuple[int, str] | None  # the held checkpoint (size, root hex), None: none held
    forks: tuple[str, ...] = ()  # open fork proofs (files): the mirror is stopped
    # when the mirror last verified the held checkpoint as the pod's newest signed one (RFC 3339
    # UTC; :func:`edgeaudit.policy.coverage.mirror_verified`); None: never, or not recorded
    verified_at: str | None = None

    @property
    def empty(self) -> bool:
        """Held at size 0: the pod signed an empty checkpoint, which the mirror verified but
        does not store (:func:`edgeaudit.policy.coverage.mirror_verified_empty`)."""
        return self.held is not None and self.held[0] == 0


@dataclass(frozen=True, slots=True)
class _Log:
    origin: str
    reader: LogReader | None
    size: int
    root: str
    pod: PodLog | None  # None: the central log


def evaluate_campus(
    policies: Policies,
    central: EvidenceLog,
    pods: Sequence[PodLog],
    *,
    start: str,
    end: str,
    central_size: int | None = None,
    tenant: str | None = None,
    frameworks: Sequence[str] | None = None,
    verify: Callable[[str], VerifyReport] | None = None,
    now: str | None = None,
) -> Assessment:
    """Judge the campus between ``start`` and ``end``: ``central`` (the workspace's own log)
    at ``central_size`` (default its whole size) and each of ``pods`` at its held checkpoint.
    ``verify(origin)``: the whole-log verification of a log, for ``integrity.store``."""
    t0, t1, evaluated_at, selected = check_request(policies, start, end, tenant, frameworks, now)
    if any(p.origin == central.origin for p in pods):
        raise EdgeauditError(f"{central.origin} is the central log, not a pod")
    checks = registry()
    cedar = Decider(policies.inventory, policies.cedar_files)
    with ExitStack() as stack:
        reader = stack.enter_context(central.reader())
        head, _ = reader.head()
        size = head if central_size is None else central_size
        if not 0 <= size <= head:
            raise EdgeauditError(f"cannot evaluate at size {size}: the log holds {head} entries")
        checkpoint = next(
            ((c.tree_size, c.root_hash.hex()) for c in reader.checkpoints() if c.tree_size == size),
            None,
        )
        logs = [_Log(central.origin, reader, size, reader.root(size).hex(), None)]
        for pod in pods:
            if pod.log is None or pod.held is None:
                logs.append(_Log(pod.origin, None, 0, EMPTY_ROOT, pod))
            else:
                logs.append(_Log(pod.origin, stack.enter_context(pod.log.reader()), *pod.held, pod))
        logs.sort(key=lambda g: g.origin)
        horizon = min(t1, epoch(evaluated_at))
        ended = t1 <= epoch(evaluated_at)
        coverage = [_coverage(g, g.pod, horizon, ended) for g in logs if g.pod is not None]
        gaps = {c.origin: coverage_outcome(c, ended) for c in coverage}

        def context(**fields: Any) -> Context:
            return Context(
                inventory=policies.inventory,
                raci=policies.raci,
                catalogue=policies.catalogue,
                cedar=cedar,
                start=t0,
                end=t1,
                as_of=min(t1, epoch(evaluated_at)),
                evaluated_at=epoch(evaluated_at),
                lookback=LOOKBACK,
                matrix=policies.matrix,
                matrix_error=policies.matrix_error,
                **fields,
            )

        def one_log(g: _Log, parent: Context) -> Context:
            assert g.reader is not None
            return context(
                reader=g.reader,
                tree_size=g.size,
                verify=None if verify is None else (lambda: verify(g.origin)),
                last_index_in_period=g.reader.last_index_before(iso(t1 + 1), g.size),
                sources=[s for s, _ in g.reader.source_counts(g.size)],
                origin=g.origin,
                mirrored=g.pod is not None,
                parent=parent,
            )

        slices = [LogSlice(g.origin, g.reader, g.size) for g in logs if g.reader is not None]
        readers = {s.origin: s.reader for s in slices}
        campus = context(
            reader=reader,
            tree_size=size,
            sources=sorted({s for g in slices for s, _ in g.reader.source_counts(g.tree_size)}),
            origin=central.origin,
            logs=slices,
        )
        per_log = {g.origin: one_log(g, campus) for g in logs if g.reader is not None}
        central_view = _Central(central.origin, reader, size, (iso(t0), iso(t1)))
        results: list[Result] = []
        for rule in policies.rules.rules:
            spec = checks[rule.check]
            if spec.per_log:
                outcomes: list[Outcome] = []
                for g in logs:
                    ctx = per_log.get(g.origin)
                    if ctx is not None:
                        ctx.activity = rule.activity
                    got = _per_log(rule, g, ctx, spec.fn, central_view)
                    gap = gaps.get(g.origin) if rule.check == COMPLETENESS_CHECK else None
                    got += [] if gap is None else [gap]
                    outcomes += [replace(o, scope=replace(o.scope, log=g.origin)) for o in got]
            else:
                campus.activity = rule.activity
                outcomes = [_named(rule, o) for o in run_check(rule, spec.fn, campus)]
                outcomes = no_pass_from_absence(outcomes, coverage)
            seen: set[str] = set()
            for o in outcomes:
                r = _result(rule, o, policies.waivers, campus)
                if r.id in seen:
                    raise EdgeauditError(f"check {rule.check} reported scope {o.scope} twice")
                seen.add(r.id)
                results.append(r)
        if tenant is not None:
            cited = {(e.origin or "", e.index) for r in results for e in r.evidence}
            visible = {
                (o, i)
                for o, i in cited
                if o in readers
                and tenant in (orjson.loads(readers[o].entry(i)[0]).get("scope") or ())
            }
            results = tenant_view(policies, results, tenant, visible)
    judged = assessment(
        policies,
        results,
        tenant,
        selected,
        (t0, t1),
        size,
        evaluated_at,
        checkpoint,
        tuple((g.origin, g.size, g.root) for g in logs),
    )
    pods_json = [c.to_dict() for c in coverage]
    return replace(judged, coverage={"until": iso(horizon), "pods": pods_json})


def _coverage(g: _Log, pod: PodLog, horizon: float, ended: bool) -> Coverage:
    """The pod's coverage: the time its last held entry states, and whether the mirror stores
    entries beyond the held checkpoint dated before the horizon (late evidence of the period)."""
    last: str | None = None
    late = False
    if g.reader is not None:
        if g.size:
            stated = orjson.loads(g.reader.entry(g.size - 1)[0]).get("time")
            last = stated if isinstance(stated, str) else None
        stored, _ = g.reader.head()
        late = stored > g.size and g.reader.last_index_before(iso(horizon), stored) >= g.size
    return judge(
        pod.origin,
        None if g.reader is None else g.size,
        last_entry=last,
        verified_at=pod.verified_at,
        forked=bool(pod.forks),
        late_stored=late,
        horizon=horizon,
        ended=ended,
    )


def _named(rule: Rule, o: Outcome) -> Outcome:
    """An outcome whose citations all name their log; a check citing an entry by index alone
    (a plug-in reading one log) is not evaluated rather than trusted."""
    if all(e.origin is not None for e in o.evidence):
        return o
    return Outcome(
        o.scope,
        NOT_EVALUATED,
        f"check {rule.check} cited an entry without naming its log, which a campus "
        "assessment cannot place",
    )


@dataclass(frozen=True, slots=True)
class _Central:
    origin: str
    reader: LogReader
    size: int
    period: tuple[str, str]  # RFC 3339 UTC, as recorded assessments state it


def _per_log(rule: Rule, g: _Log, ctx: Context | None, fn: Any, central: _Central) -> list[Outcome]:
    pod = g.pod
    if pod is not None and rule.check == STORE_CHECK and pod.forks:
        return [_forked(pod, central)]
    if ctx is None:  # a pod with no held checkpoint
        why = (
            f"no checkpoint of {g.origin} is held by the mirror (never synced): its log cannot "
            "be judged"
        )
        status = FAIL if rule.check == STORE_CHECK else NOT_EVALUATED
        return [Outcome(Scope(subject=rule.id), status, why)]
    if pod is not None and rule.check == STORE_CHECK and pod.empty:
        return [_empty_store(rule, pod, ctx)]
    if pod is not None and rule.check in QUARANTINE_CHECKS:
        return list(_adopted(rule, g, central.period))
    return [_named(rule, o) for o in run_check(rule, fn, ctx)]


def _empty_store(rule: Rule, pod: PodLog, ctx: Context) -> Outcome:
    """``integrity.store`` of a pod held at size 0, as the check judges an empty log with a
    checkpoint of size 0: the store verifies and the checkpoint is fresh. The store holds no
    checkpoint of it: its age is the time since the mirror last verified it as the newest."""
    scope = Scope(subject="evidence-store")
    if ctx.verify is None:
        return Outcome(scope, NOT_EVALUATED, "no verifier key to check the store against")
    report = ctx.verify()
    if not report.ok:
        first = "; ".join(str(p) for p in report.problems[:3])
        found = plural(len(report.problems), "problem")
        return Outcome(scope, FAIL, f"store verification found {found}: {first}")
    if pod.verified_at is None:  # pod_logs holds a pod at size 0 only when verified
        why = "the pod's empty checkpoint was never recorded as verified by the mirror"
        return Outcome(scope, FAIL, why)
    age = ctx.evaluated_at - epoch(pod.verified_at)
    limit = float(rule.param_map["checkpoint_max_age"])
    signed = "the pod signed an empty checkpoint (size 0), which the mirror last verified as "
    signed += f"its newest at {pod.verified_at}"
    if age > limit:
        why = f"{signed}, {age / 3600:.1f} h before the assessment (max {limit / 3600:g} h)"
        return Outcome(scope, FAIL, why)
    return Outcome(scope, PASS, f"store verifies ({report.entries_checked} entries); {signed}")


def _forked(pod: PodLog, central: _Central) -> Outcome:
    refs = []
    for idx, body, leaf in central.reader.select([FORK_KIND], None, None, central.size):
        if orjson.loads(body).get("origin") == pod.origin:
            refs.append(EvidenceRef(idx, leaf.hex(), central.origin))
    held = "no checkpoint" if pod.held is None else f"the checkpoint of size {pod.held[0]}"
    return Outcome(
        Scope(subject="evidence-store"),
        FAIL,
        f"the mirror of {pod.origin} is stopped by a fork ({', '.join(pod.forks)}): the pod's key "
        f"signed two contradicting checkpoints; judged at {held} held before it",
        tuple(refs),
    )


def _adopted(rule: Rule, g: _Log, period: tuple[str, str]) -> Iterator[Outcome]:
    """The pod's own recorded results of ``rule`` for the period (its latest site assessment
    of the period within the held size), each citing its ``policy.result`` entry."""
    assert g.reader is not None
    found: dict[str, list[tuple[int, bytes, dict[str, Any]]]] = {}
    order: list[str] = []
    for idx, body, leaf in g.reader.select([RECORD_KIND], None, None, g.size):
        rec = orjson.loads(body)
        a = rec.get("assessment") or {}
        if (a.get("from"), a.get("to")) != period or a.get("tenant") is not None or "logs" in a:
            continue
        aid = str(a.get("id"))
        if aid not in found:
            order.append(aid)
        found.setdefault(aid, []).append((idx, leaf, rec))
    for aid in reversed(order):
        mine = [(i, leaf, rec) for i, leaf, rec in found[aid] if _rule_of(rec) == rule.id]
        if not mine:
            continue
        for idx, leaf, rec in mine:
            yield _adopt(rec, EvidenceRef(idx, leaf.hex(), g.origin), aid)
        return
    yield Outcome(
        Scope(subject=rule.id),
        NOT_EVALUATED,
        f"the mirror does not copy {g.origin}'s quarantine, and the pod recorded no result of "
        f"{rule.id} for the period up to the held checkpoint (size {g.size}): the pod runs "
        "`edgeaudit evaluate` for the period and the mirror syncs it",
    )


def _rule_of(rec: Mapping[str, Any]) -> str | None:
    r = rec.get("result")
    return r.get("rule") if isinstance(r, dict) else None


def _adopt(rec: Mapping[str, Any], ref: EvidenceRef, aid: str) -> Outcome:
    r = rec["result"]
    raw = r.get("scope") if isinstance(r.get("scope"), dict) else {}
    fields = {k: str(v) for k, v in raw.items() if k in _POD_SCOPE_KEYS and v is not None}
    status = r.get("status")
    note = ""
    if status == WAIVED:  # the pod's waiver is the pod's: the campus applies its own
        status, note = FAIL, " [waived on the pod; the campus's own waivers apply here]"
    if status not in (PASS, FAIL, NOT_EVALUATED, STALE):
        status = NOT_EVALUATED
        note = f" [the pod's status {r.get('status')!r} is not one of {', '.join(STATUSES)}]"
    return Outcome(
        Scope(**fields),
        status,
        f"as the pod judged it (assessment {aid}, {rec.get('time')}): {r.get('reason')}{note}",
        (ref,),
    )


_POD_SCOPE_KEYS: Final = ("tenant", "asset", "principal", "segment", "key", "activity", "subject")
