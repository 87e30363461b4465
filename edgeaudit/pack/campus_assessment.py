"""The campus assessment a campus pack carries (``pack build --campus`` without ``--findings``):
as :func:`edgeaudit.pack.build.period_assessment` for one log, the latest recorded campus
assessment of the period while it is current (every pod still at the checkpoint its ``logs``
names, nothing after it but its own records), else ``evaluate --campus`` at a checkpoint
signed now, recorded in the central log (ADR 0018)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from edgeaudit.errors import InputError
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.period import Period
from edgeaudit.store import EvidenceLog, Store
from edgeaudit.workspace.config import WorkspaceConfig

if TYPE_CHECKING:
    from edgeaudit.pack.campus import CampusRequest
    from edgeaudit.policy.campus import PodLog
    from edgeaudit.policy.files import Policies


def pod_logs(config: WorkspaceConfig, store: Store) -> list[PodLog]:
    """Every ``[[mirror]]`` as the campus assessment judges it (``evaluate --campus`` and
    ``pack build --campus`` both list pods here): its log, the checkpoint the mirror holds,
    its open fork proofs and when the mirror last verified the held checkpoint. A pod of which
    the store holds no checkpoint but the mirror verified an empty one is held at size 0 (the
    empty tree, :func:`~edgeaudit.policy.coverage.mirror_verified_empty`); else it is never
    synced (held None)."""
    from edgeaudit.mirror.state import MirrorFiles
    from edgeaudit.policy.campus import EMPTY_ROOT, PodLog
    from edgeaudit.policy.coverage import mirror_verified, mirror_verified_empty
    from edgeaudit.workspace.mirrors import load_mirrors

    held_origins = set(store.origins())
    pods = []
    for m in load_mirrors(config):
        forks = tuple(
            str(p.relative_to(config.root)) for p in MirrorFiles(config.root, m.origin).forks()
        )
        if m.origin not in held_origins:
            pods.append(PodLog(m.origin, None, None, forks))
            continue
        log = store.log(m.origin)
        cp = log.latest_checkpoint()
        if cp is not None:
            held = (int(cp.tree_size), cp.root_hash.hex())
            verified = mirror_verified(config.root, m.origin, held[0])
            pods.append(PodLog(m.origin, log, held, forks, verified))
            continue
        empty = mirror_verified_empty(config.root, m.origin, log.size)
        held0 = None if empty is None else (0, EMPTY_ROOT)
        pods.append(PodLog(m.origin, log, held0, forks, empty))
    return pods


def pod_keys(config: WorkspaceConfig, pods: list[PodLog]) -> list[tuple[str, list[str]]]:
    """The pods whose logs ``integrity.store`` verifies, each with its ``[[mirror]]`` key: every
    pod held (at size 0 too), unless stopped by a fork (which fails without it)."""
    from edgeaudit.workspace.mirrors import load_mirrors

    keys = {m.origin: m.verifier_key for m in load_mirrors(config)}
    return [(p.origin, [keys[p.origin]]) for p in pods if p.held is not None and not p.forks]


def campus_period_assessment(
    config: WorkspaceConfig,
    store: Store,
    log: EvidenceLog,
    policies: Policies,
    period: Period,
    signs: bool = True,
) -> dict[str, Any]:
    """The campus assessment document of ``period`` for the central ``log`` and every pod."""
    from edgeaudit.policy.campus import EMPTY_ROOT, evaluate_campus
    from edgeaudit.policy.record import record
    from edgeaudit.policy.recorded import latest_for_snapshot
    from edgeaudit.policy.summary import rule_descriptions

    pods = pod_logs(config, store)
    doc = latest_for_snapshot(
        log,
        period.start_text,
        period.end_text,
        None,
        policies.catalogue,
        policy_digest=policies.digest,
        mapped={ref for rule in policies.rules.rules for ref in rule.controls},
        rules=rule_descriptions(policies),
        campus={p.origin: p.held or (0, EMPTY_ROOT) for p in pods},
    )
    if doc is not None and not _every_pod_covered(doc):
        doc = None  # judged before the mirror covered every pod (or before coverage was judged)
    if doc is None and not signs:
        raise InputError(
            f"no recorded campus assessment of {period.label} is current, and with --checkpoint "
            "this host does not sign: run `edgeaudit evaluate --campus` for the period, have "
            "the log key's holder sign a checkpoint after it, and pass that note with "
            "--checkpoint"
        )
    if doc is None:
        from edgeaudit.workspace.signing import sign_checkpoint

        at = sign_checkpoint(config, log).tree_size
        verify = None
        if any(rule.check == "integrity.store" for rule in policies.rules.rules):
            from edgeaudit.verify.background import BackgroundVerifyLogs

            keyed = [(log.origin, [config.verifier_key]), *pod_keys(config, pods)]
            verify = BackgroundVerifyLogs(config.db_url, keyed)
        try:
            assessment = evaluate_campus(
                policies,
                log,
                pods,
                start=period.start_text,
                end=period.end_text,
                central_size=at,
                verify=None if verify is None else verify.report,
            )
        finally:
            if verify is not None:
                verify.close()
        record(assessment, log)
        doc = assessment.to_dict()
    return fnd.carried(doc)


def _every_pod_covered(doc: dict[str, Any]) -> bool:
    """Whether a recorded campus assessment held every pod's evidence of its period: only then
    is it reused (a later evaluation may hold more, never less, of a pod at the same size)."""
    from edgeaudit.policy.coverage import COVERED

    coverage = doc["assessment"].get("coverage")
    pods = coverage.get("pods") if isinstance(coverage, dict) else None
    return isinstance(pods, list) and all(
        isinstance(p, dict) and p.get("state") == COVERED for p in pods
    )


def with_assessment(
    config: WorkspaceConfig, store: Store, log: EvidenceLog, request: CampusRequest
) -> CampusRequest:
    """``request`` with the campus assessment of its period, and the inventory, RACI rows and
    supported-only controls of the policies it judged by (unless the request names them)."""
    policies = request.policies
    assert policies is not None
    doc = campus_period_assessment(
        config, store, log, policies, request.period, signs=request.checkpoint is None
    )
    raci = request.raci
    if raci is None and policies.raci is not None:
        from edgeaudit.pack.raci import raci_rows

        raci = raci_rows(policies.raci, request.tenant)
    return replace(
        request,
        findings=doc,
        inventory=request.inventory if request.inventory is not None else policies.inventory,
        raci=raci,
        supports_only=(
            request.supports_only
            if request.supports_only is not None
            else frozenset(c.ref for c in policies.catalogue.controls if c.supports_only)
        ),
    )
