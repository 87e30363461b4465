"""Values of an assessment: evidence references, results, waivers, the assessment itself.

Every rule x scope yields exactly one :class:`Result` whose status is one of :data:`STATUSES`.
A result's ``id`` is stable across runs (rule + scope), so a waiver can name it and a later
assessment can be compared with an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from edgeaudit import canonical
from edgeaudit.policy.statuses import FAIL as FAIL  # re-exported: the statuses of a result
from edgeaudit.policy.statuses import FINDING_STATUSES as FINDING_STATUSES
from edgeaudit.policy.statuses import NOT_EVALUATED as NOT_EVALUATED
from edgeaudit.policy.statuses import PASS as PASS
from edgeaudit.policy.statuses import STALE as STALE
from edgeaudit.policy.statuses import STATUSES as STATUSES
from edgeaudit.policy.statuses import WAIVED as WAIVED

# the meaning of statuses and results: bumped whenever a check or the roll-up changes what a
# status means, so a recorded assessment of an older engine is never reused silently
ENGINE: Final = "edgeaudit-policy/2"
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")
# ``log`` last: a campus assessment's per-log results name their log; the result id of every
# scope without it is the id it always had
SCOPE_KEYS: Final = (
    "tenant",
    "asset",
    "principal",
    "segment",
    "key",
    "activity",
    "subject",
    "log",
)


@dataclass(frozen=True, slots=True, order=True)
class EvidenceRef:
    """One stored entry a result rests on: its index and leaf hash (hex), and in a campus
    assessment the origin of the log holding it (None in a single-log one)."""

    index: int
    leaf_hash: str
    origin: str | None = None

    @property
    def sort_key(self) -> tuple[str, int, str]:
        """Order of citations: by log, then index (one log: index order, as always)."""
        return (self.origin or "", self.index, self.leaf_hash)

    def to_dict(self) -> dict[str, Any]:
        if self.origin is None:
            return {"index": self.index, "leaf_hash": self.leaf_hash}
        return {"index": self.index, "leaf_hash": self.leaf_hash, "origin": self.origin}

    def text(self) -> str:
        """As people and CSV cells read it: ``INDEX``, or ``ORIGIN#INDEX`` in a campus one."""
        return str(self.index) if self.origin is None else f"{self.origin}#{self.index}"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a result is about. Only the keys that apply are set."""

    tenant: str | None = None
    asset: str | None = None
    principal: str | None = None
    segment: str | None = None
    key: str | None = None
    activity: str | None = None
    subject: str | None = None  # anything else (a grant id, a door, a source file...)
    log: str | None = None  # a campus assessment's per-log result: the log's origin

    def to_dict(self) -> dict[str, str]:
        return {k: v for k in SCOPE_KEYS if (v := getattr(self, k)) is not None}

    def text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.to_dict().items()) or "site"


def _ref_order(ref: EvidenceRef) -> tuple[str, int, str]:
    return ref.sort_key


def result_id(rule: str, scope: Scope) -> str:
    """Stable id of rule x scope, whatever the status: ``R-`` + 16 hex digits of SHA-256."""
    return canonical.result_id(rule, tuple(scope.to_dict().items()))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check says about one scope, before waivers and staleness are applied."""

    scope: Scope
    status: str  # pass / fail / not-evaluated / stale
    reason: str
    evidence: tuple[EvidenceRef, ...] = ()
    observed: tuple[tuple[str, Any], ...] = ()  # extra facts, JSON values

    def __post_init__(self) -> None:
        if self.status not in (PASS, FAIL, NOT_EVALUATED, STALE):
            raise ValueError(f"a check cannot report status {self.status!r}")
        ordered = sorted(set(self.evidence), key=_ref_order)
        if list(self.evidence) != ordered:
            object.__setattr__(self, "evidence", tuple(ordered))


@dataclass(frozen=True, slots=True)
class Waiver:
    id: str
    rule: str | None
    result: str | None  # a result id (R-..., or the older F-... form of the same digits)
    scope: tuple[tuple[str, str], ...]  # scope keys that must match (empty: any)
    approver: str
    reason: str
    risk: str
    effective: str  # RFC 3339 UTC
    expires: str  # RFC 3339 UTC
    line: int

    def matches(self, rule: str, rid: str, scope: Scope) -> bool:
        if self.result is not None and self.result[2:] != rid[2:]:
            return False
        if self.rule is not None and self.rule != rule:
            return False
        have = scope.to_dict()
        return all(have.get(k) == v for k, v in self.scope)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "result": self.result,
            "scope": dict(self.scope),
            "approver": self.approver,
            "reason": self.reason,
            "risk": self.risk,
            "effective": self.effective,
            "expires": self.expires,
        }


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    rule: str
    title: str
    status: str
    severity: str
    controls: tuple[str, ...]
    scope: Scope
    reason: str
    evidence: tuple[EvidenceRef, ...]
    waiver: Waiver | None = None
    observed: tuple[tuple[str, Any], ...] = ()
    activity: str | None = None  # the rule's RACI activity (its owner: R/A of that row)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "status": self.status,
            "severity": self.severity,
            "controls": list(self.controls),
            "scope": self.scope.to_dict(),
            "reason": self.reason,
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.activity is not None:
            out["activity"] = self.activity
        if self.waiver is not None:
            out["waiver"] = self.waiver.to_dict()
        if self.observed:
            out["observed"] = dict(self.observed)
        return out


@dataclass(frozen=True, slots=True)
class ControlStatus:
    framework: str
    control: str
    title: str
    status: str  # one of statuses.CONTROL_STATUSES
    results: tuple[str, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "framework": self.framework,
            "control": self.control,
            "title": self.title,
            "status": self.status,
            "results": list(self.results),
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Assessment:
    id: str
    start: str  # period start, RFC 3339 UTC
    end: str  # period end (exclusive)
    tenant: str | None
    frameworks: tuple[str, ...]
    tree_size: int
    evaluated_at: str
    policy_digest: str
    results: tuple[Result, ...]
    controls: tuple[ControlStatus, ...] = field(default=())
    engine: str = ENGINE
    rules_version: int = 1
    policy_files: tuple[tuple[str, str], ...] = ()  # (path relative to the policies, sha256)
    site_wide_rules: tuple[str, ...] = ()  # rules whose site-wide results every tenant sees
    # the signed checkpoint the assessment ran at (size, root hex), when there was one
    checkpoint: tuple[int, str] | None = None
    # each rule as run: id, check, title, activity, severity, params, procedure, population
    rules: tuple[dict[str, Any], ...] = ()
    # a campus assessment: every log judged, (origin, tree size, root hex), sorted by origin;
    # empty for a single-log one (whose documents then have no ``logs`` member)
    logs: tuple[tuple[str, int, str], ...] = ()
    # a campus assessment: how much of the period's evidence of each pod it holds
    # (``{"until", "pods"}``, edgeaudit.policy.coverage); None for a single-log one
    coverage: dict[str, Any] | None = None

    def logs_json(self) -> list[dict[str, Any]]:
        return [{"origin": o, "tree_size": n, "root_hash": h} for o, n, h in self.logs]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def failing(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if r.status == FAIL)

    def findings(self) -> tuple[Result, ...]:
        """Failing or waived results: what an auditor calls findings."""
        return tuple(r for r in self.results if r.status in FINDING_STATUSES)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "assessment": {
                "id": self.id,
                "from": self.start,
                "to": self.end,
                "tenant": self.tenant,
                "frameworks": list(self.frameworks),
                "tree_size": self.tree_size,
                "evaluated_at": self.evaluated_at,
                "policy_digest": self.policy_digest,
                "engine": self.engine,
                "rules_version": self.rules_version,
                "policy_files": dict(self.policy_files),
                "site_wide_rules": list(self.site_wide_rules),
                "checkpoint": None
                if self.checkpoint is None
                else {"tree_size": self.checkpoint[0], "root_hash": self.checkpoint[1]},
                "counts": self.counts(),
            },
            "rules": [dict(r) for r in self.rules],
            "results": [r.to_dict() for r in self.results],
            "controls": [c.to_dict() for c in self.controls],
        }
        if self.logs:
            out["assessment"]["logs"] = self.logs_json()
        if self.coverage is not None:
            out["assessment"]["coverage"] = self.coverage
        return out
