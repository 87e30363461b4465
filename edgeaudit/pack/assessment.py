"""The site assessment a single-log pack carries (:func:`period_assessment`), and the
framework filter of a pack's findings (``pack build --framework``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeaudit.errors import InputError
from edgeaudit.pack import findings as fnd
from edgeaudit.pack.period import Period
from edgeaudit.store import EvidenceLog
from edgeaudit.workspace.config import WorkspaceConfig
from edgeaudit.workspace.signing import sign_checkpoint

if TYPE_CHECKING:
    from edgeaudit.policy.files import Policies


def filter_frameworks(doc: dict[str, Any], frameworks: tuple[str, ...]) -> dict[str, Any]:
    if not frameworks:
        return doc
    want = set(frameworks)

    def keep(control: str) -> bool:
        return control.split(":", 1)[0] in want

    results = [r for r in doc["results"] if any(keep(c) for c in r.get("controls", []))]
    return {
        "assessment": {
            **doc["assessment"],
            "frameworks": sorted(want),
            "counts": fnd.counts(results),  # of the results the pack carries
        },
        "results": results,
        "controls": [c for c in doc.get("controls", []) if c.get("framework") in want],
    }


def period_assessment(
    config: WorkspaceConfig,
    log: EvidenceLog,
    policies: Policies,
    period: Period,
    signs: bool = True,
) -> dict[str, Any]:
    """The site assessment of ``period`` a pack of the current snapshot carries.

    The latest recorded assessment of the period (``policy.recorded.latest_for_snapshot``) when
    nothing but its own results came after it and the engine and policy files are the same;
    else a fresh evaluation of ``policies``, with the store-integrity check (the log re-hashed
    against its signed checkpoints with the workspace's verifier key), recorded: the assessment
    is evidence. The document is the same whichever way it came (``counts`` of every status,
    no word on whether it was reused), so the same snapshot gives the same pack; a tenant pack
    restricts it with :func:`findings.for_view`."""
    from edgeaudit.note.verifier import Verifier
    from edgeaudit.policy.engine import evaluate
    from edgeaudit.policy.record import record
    from edgeaudit.policy.recorded import latest_for_snapshot
    from edgeaudit.policy.summary import rule_descriptions
    from edgeaudit.verify import verify_log

    start, end = period.start_text, period.end_text
    doc = latest_for_snapshot(
        log,
        start,
        end,
        None,
        policies.catalogue,
        policy_digest=policies.digest,
        mapped={ref for rule in policies.rules.rules for ref in rule.controls},
        rules=rule_descriptions(policies),
    )
    if doc is None and not signs:
        raise InputError(
            f"no recorded assessment of {period.label} is current, and with --checkpoint this "
            "host does not sign: run `edgeaudit evaluate` for the period, have the log key's "
            "holder sign a checkpoint after it (`edgeaudit checkpoint sign --out FILE`), and "
            "pass that note with --checkpoint"
        )
    if doc is None:
        # judged at a signed checkpoint, so the pack can state the population against it
        at = sign_checkpoint(config, log).tree_size
        verifiers = [Verifier.parse(config.verifier_key)]
        assessment = evaluate(
            policies,
            log,
            start=start,
            end=end,
            verify=lambda: verify_log(log, verifiers),
            at_size=at,
        )
        record(assessment, log)
        doc = assessment.to_dict()
    return fnd.carried(doc)
