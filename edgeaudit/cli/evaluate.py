"""``edgeaudit evaluate``: judge the operating model against the evidence of a period.

Exit codes: 0 nothing fails (waived results alone are 0); 1 something fails (with ``--strict``
also: not evaluated, stale); 2 usage or policy-file errors.

``--campus`` (ADR 0018): the central workspace's own log at a checkpoint signed now and every
``[[mirror]]`` pod's log at the checkpoint the mirror holds, judged as one campus; the results
are recorded in the workspace's own log only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.policy.model import WAIVED, Assessment
from edgeaudit.policy.statuses import CONTROL_STATUSES, exit_code
from edgeaudit.workspace.config import WorkspaceConfig

_QUARTER = re.compile(r"(\d{4})[Qq]([1-4])")


def period(args: argparse.Namespace) -> tuple[str, str]:
    """(start, end) in RFC 3339 UTC from ``--quarter`` or ``--from``/``--to``."""
    if args.quarter:
        if args.date_from or args.date_to:
            raise InputError("give either --quarter or --from/--to, not both")
        m = _QUARTER.fullmatch(args.quarter)
        if m is None:
            raise InputError(f"--quarter {args.quarter!r}: expected e.g. 2026Q3")
        year, q = int(m.group(1)), int(m.group(2))
        start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
        end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
        return _z(start), _z(end)
    if not (args.date_from and args.date_to):
        raise InputError("give the period: --quarter 2026Q3, or --from and --to")
    return _when(args.date_from, "--from"), _when(args.date_to, "--to")


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(text: str, flag: str) -> str:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{flag} {text!r}: expected a date (2026-07-01) or RFC 3339 time"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return _z(t.astimezone(UTC))


def policy_dir(args: argparse.Namespace, config: WorkspaceConfig) -> Path:
    if args.policies:
        return Path(args.policies)
    local = config.root / "policies"
    if local.is_dir():
        return local
    raise InputError(f"{local}: no policy directory (give --policies DIR)")


def run(args: argparse.Namespace, config: WorkspaceConfig) -> int:
    from edgeaudit.cli.commands import _choice, _open, _refuse_write, _verifier_texts, _verifiers
    from edgeaudit.policy.engine import evaluate
    from edgeaudit.policy.files import load_policies
    from edgeaudit.policy.record import record
    from edgeaudit.verify.background import BackgroundVerify

    if getattr(args, "campus", False):
        return run_campus(args, config)
    # a mirrored pod's log (--log) is judged only without recording: it is the pod's to write
    own = _choice(args, config).own
    writes = None if args.no_record else "evaluate` without `--no-record"
    if writes is not None:
        _refuse_write(args, config, writes)
    start, end = period(args)
    policies = load_policies(policy_dir(args, config))
    _verifiers(args, config)  # a bad key is a usage error before any work starts
    store, log = _open(config, args, writes=writes)
    # the integrity rule's whole-store verification runs on another core beside the checks
    needs = any(rule.check == "integrity.store" for rule in policies.rules.rules)
    verify = (
        BackgroundVerify(config.db_url, log.origin, _verifier_texts(args, config))
        if needs
        else None
    )
    try:
        with store:
            assessment = evaluate(
                policies,
                log,
                start=start,
                end=end,
                tenant=args.tenant,
                frameworks=args.framework or None,
                verify=verify,
                at_size=_checkpoint_size(config, log) if own else _held_size(log),
            )
            recorded = None if args.no_record else record(assessment, log)
    finally:
        if verify is not None:
            verify.close()
    return _show(args, policies, assessment, recorded)


def _show(args: argparse.Namespace, policies: Any, assessment: Assessment, recorded: Any) -> int:
    data = assessment.to_dict()
    if recorded is not None:
        data["recorded"] = {"appended": recorded.appended, "first_index": recorded.first_index}
    text = (
        json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
        if args.json
        else table(assessment, recorded.first_index if recorded else None)
    )
    if args.tenant:
        # what is shown for a tenant names no other tenant: their tenants, segments, assets,
        # addresses, principals and keys become neutral labels (as in a tenant pack); the
        # recorded results keep the real names
        from edgeaudit.pack.scope import TenantView

        text = TenantView.for_tenant(policies.inventory, args.tenant).redact_text(text)
    print(text)
    return exit_code((r.status for r in assessment.results), strict=args.strict)


def run_campus(args: argparse.Namespace, config: WorkspaceConfig) -> int:
    """``evaluate --campus``: every log of the campus, recorded in the workspace's own log."""
    from edgeaudit.cli.commands import _open, _verifier_texts
    from edgeaudit.pack.campus_assessment import pod_keys, pod_logs
    from edgeaudit.policy.campus import evaluate_campus
    from edgeaudit.policy.files import load_policies
    from edgeaudit.policy.record import record
    from edgeaudit.verify.background import BackgroundVerifyLogs
    from edgeaudit.workspace.mirrors import load_mirrors

    if getattr(args, "log", None):
        raise InputError(
            "evaluate --campus judges this workspace's own log and every [[mirror]] pod's log: "
            "it takes no --log (judge one pod's log with `evaluate --log POD --no-record`)"
        )
    start, end = period(args)
    policies = load_policies(policy_dir(args, config))
    load_mirrors(config)  # a bad [[mirror]] table is a usage error before any work starts
    own_keys = _verifier_texts(args, config)  # --key: the central log's (a bad one: exit 2)
    store, log = _open(config, args, writes=None if args.no_record else "evaluate")
    verify = None
    try:
        with store:
            pods = pod_logs(config, store)  # as `pack build --campus` lists them
            if any(rule.check == "integrity.store" for rule in policies.rules.rules):
                keyed = [(log.origin, own_keys), *pod_keys(config, pods)]
                verify = BackgroundVerifyLogs(config.db_url, keyed)
            assessment = evaluate_campus(
                policies,
                log,
                pods,
                start=start,
                end=end,
                central_size=_checkpoint_size(config, log),
                tenant=args.tenant,
                frameworks=args.framework or None,
                verify=None if verify is None else verify.report,
            )
            recorded = None if args.no_record else record(assessment, log)
    finally:
        if verify is not None:
            verify.close()
    return _show(args, policies, assessment, recorded)


def _checkpoint_size(config: WorkspaceConfig, log: Any) -> int | None:
    """The size to evaluate at: a signed checkpoint of the whole log (signed now when the
    latest does not cover it), so the assessment can be re-performed against a checkpoint.
    Without access to the log key: the latest signed checkpoint, said on stderr; None (the
    whole log) when none was ever signed."""
    from edgeaudit.errors import ConfigError
    from edgeaudit.workspace.signing import sign_checkpoint

    try:
        return sign_checkpoint(config, log).tree_size
    except ConfigError as exc:
        with log.reader() as reader:
            checkpoints = reader.checkpoints()
            head, _ = reader.head()
        if not checkpoints:
            print(
                f"edgeaudit: cannot sign a checkpoint ({exc}); evaluating the whole log of "
                f"{head} entries without one",
                file=sys.stderr,
            )
            return None
        size = int(checkpoints[-1].tree_size)
        if size < head:
            print(
                f"edgeaudit: cannot sign a checkpoint ({exc}); evaluating at the latest signed "
                f"checkpoint, size {size} (the log holds {head})",
                file=sys.stderr,
            )
        return size


def _held_size(log: Any) -> int | None:
    """A log this workspace does not sign (a mirrored pod's): its latest checkpoint."""
    latest = log.latest_checkpoint()
    return None if latest is None else int(latest.tree_size)


def table(a: Assessment, first_index: int | None) -> str:
    lines = [
        f"assessment {a.id}  period {a.start} .. {a.end}"
        + (f"  tenant {a.tenant}" if a.tenant else "")
        + f"  tree size {a.tree_size}"
        + (f" (signed checkpoint, root {a.checkpoint[1][:16]}...)" if a.checkpoint else ""),
        *(
            [f"campus of {len(a.logs)} logs (entries judged, root):"]
            + [f"  {origin}  {size}  {root[:16]}..." for origin, size, root in a.logs]
            if a.logs
            else []
        ),
        *(
            [f"coverage of the period (until {a.coverage['until']}):"]
            + [
                f"  {p['origin']}  {p['state']}  (held {p['tree_size']}, last entry "
                f"{p['last_entry'] or 'none'}, verified {p['verified_at'] or 'never'})"
                for p in a.coverage["pods"]
            ]
            if a.coverage and a.coverage["pods"]
            else []
        ),
        "",
        "controls per framework (satisfied / with exceptions: waived results inside / supported "
        "by automated evidence / not satisfied / not evaluated):",
        f"{'framework':<16} {'satisfied':>9} {'with exc.':>9} {'supported':>9} {'with exc.':>9} "
        f"{'not sat.':>9} {'not eval.':>9}",
    ]
    for fw in a.frameworks:
        c = Counter(ctl.status for ctl in a.controls if ctl.framework == fw)
        lines.append(f"{fw:<16} " + " ".join(f"{c[s]:>9}" for s in CONTROL_STATUSES))
    counts = a.counts()
    lines += ["", "results: " + ", ".join(f"{k} {v}" for k, v in counts.items())]
    findings = sorted(
        a.findings(), key=lambda r: (r.status == WAIVED, _sev(r.severity), r.rule, r.id)
    )
    if findings:
        n_waived = sum(1 for r in findings if r.status == WAIVED)
        lines += [
            "",
            f"findings ({len(findings)}: {len(findings) - n_waived} failing, {n_waived} waived):",
        ]
        for r in findings:
            refs = ", ".join(e.text() for e in r.evidence[:8])
            more = f" +{len(r.evidence) - 8}" if len(r.evidence) > 8 else ""
            state = " WAIVED" if r.status == WAIVED else ""
            lines.append(f"  {r.id} [{r.severity}]{state} {r.rule} ({r.scope.text()})")
            lines.append(f"      {r.reason}")
            if refs:
                lines.append(f"      evidence: {refs}{more}")
    if first_index is not None:
        lines += ["", f"recorded as policy.result entries from index {first_index}"]
    return "\n".join(lines)


def _sev(s: str) -> int:
    return ("critical", "high", "medium", "low", "info").index(s)
