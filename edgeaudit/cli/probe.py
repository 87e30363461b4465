"""``edgeaudit probe run|schedule``: probe a plan from this vantage point and append the
records, or run plans on their cron expressions (or write systemd units for them)."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from edgeaudit.errors import InputError
from edgeaudit.workspace.config import WorkspaceConfig

log = logging.getLogger("edgeaudit.probe")
STATE_FILE = "probe-schedule.json"


def _policies(args: argparse.Namespace, config: WorkspaceConfig) -> Any:
    from edgeaudit.probe.run import load_policies

    base = config.root / "policies"
    return load_policies(
        Path(args.inventory) if args.inventory else base / "inventory.yaml",
        Path(args.isolation) if args.isolation else base / "isolation.yaml",
        Path(args.plans) if args.plans else base / "probes.yaml",
    )


def _hook(command: str, report: dict[str, Any]) -> None:
    """Run ``--on-violation`` with the run's JSON on stdin (no shell)."""
    argv = shlex.split(command)
    if not argv:
        raise InputError("--on-violation: empty command")
    try:
        done = subprocess.run(argv, input=json.dumps(report).encode(), timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("--on-violation %s failed: %s", command, exc)
        return
    if done.returncode:
        log.error("--on-violation %s exited with %d", command, done.returncode)


def _text(report: dict[str, Any]) -> str:
    lines = [
        f"run {report['run']}  plan {report['plan']}  vantage {report['vantage']}  "
        f"matrix {report['matrix_version']}  trigger {report['trigger']}",
        f"  {report['started']} .. {report['finished']}  controls "
        f"{'ok' if report['controls_ok'] else 'FAILED'}  "
        + "  ".join(f"{k} {v}" for k, v in report["counts"].items()),
    ]
    for r in report["results"]:
        if r["violation"] or (r["expected"] == "allow" and r["verdict"] != "reachable"):
            mark = "VIOLATION" if r["violation"] else "allowed path not reachable"
            port = "" if r["port"] is None else f"/{r['port']}"
            lines.append(
                f"  {mark}: {r['address']} ({r['asset'] or '?'}, {r['segment']}) "
                f"{r['protocol']}{port}: {r['verdict']} ({'; '.join(r['reasons'])})"
            )
    lines.append(f"  {report['violations']} violation(s); appended {report['appended']} record(s)")
    unsure = report["counts"].get("inconclusive", 0)
    if unsure:
        lines.append(
            f"  {unsure} inconclusive result(s) (e.g. UDP open|filtered; --strict: exit 3)"
        )
    return "\n".join(lines)


def _run_and_record(
    policies: Any, plan: str, trigger: str, log_: Any, on_violation: str | None
) -> dict[str, Any]:
    from edgeaudit.probe.records import append_events, recorded_references
    from edgeaudit.probe.run import run_plan

    report = run_plan(policies, plan, trigger, lambda a, b: recorded_references(log_, a, b))
    appended = append_events(log_, report.events)
    data = {**report.to_dict(), "appended": appended.appended}
    if report.violations and on_violation:
        _hook(on_violation, data)
    return data


def run_probe(args: argparse.Namespace, config: WorkspaceConfig, log_: Any) -> int:
    if len(args.plan or []) != 1:
        raise InputError("usage: edgeaudit probe run --plan NAME")
    policies = _policies(args, config)
    data = _run_and_record(policies, args.plan[0], args.trigger, log_, args.on_violation)
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(_text(data))
    return exit_code(data, strict=bool(getattr(args, "strict", False)))


def exit_code(report: dict[str, Any], strict: bool = False) -> int:
    """1: a denied path is reachable (whatever the controls); else 3: a positive control
    failed, or the run had none, so its silence proves nothing; else 3 with ``strict`` when a
    result is inconclusive (UDP open|filtered); else 0."""
    if report["violations"]:
        return 1
    if not report["controls_ok"]:
        return 3
    if strict and report["counts"].get("inconclusive"):
        return 3
    return 0


def write_systemd(args: argparse.Namespace, config: WorkspaceConfig) -> int:
    from edgeaudit.probe.schedule import systemd_units

    policies = _policies(args, config)
    plans = [policies.plan(n) for n in args.plan] if args.plan else list(policies.plans.values())
    exe = shutil.which("edgeaudit") or f"{sys.executable} -m edgeaudit.cli.main"
    units = systemd_units(plans, config.root, exe, netns=args.netns)
    out = Path(args.systemd)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        (out / name).write_text(text, encoding="utf-8")
    if args.json:
        print(json.dumps({"written": sorted(str(out / n) for n in units)}, indent=2))
    else:
        print("\n".join(f"wrote {out / n}" for n in sorted(units)))
    return 0


def _runs_here(policies: Any, plan: Any) -> bool:
    from edgeaudit.errors import EdgeauditError
    from edgeaudit.probe.plan import expand
    from edgeaudit.probe.run import check_vantages

    try:  # every family the plan probes (a dual-stack plan sends from both)
        probes = expand(plan, policies.inventory, policies.matrix)
        check_vantages(plan, policies.inventory, probes)
    except EdgeauditError:
        return False
    return True


def schedule(args: argparse.Namespace, config: WorkspaceConfig, log_: Any) -> int:
    from edgeaudit.probe.records import append_events, missed_event
    from edgeaudit.probe.schedule import Scheduler, State, rfc3339

    policies = _policies(args, config)
    if args.plan:
        plans = [policies.plan(n) for n in args.plan]
    else:  # the plans that can run from here
        plans = [p for p in policies.plans.values() if p.cron and _runs_here(policies, p)]
        if not plans:
            raise InputError(
                "no scheduled plan has its vantage segment here; name plans with --plan"
            )
        log.info("scheduling %s", ", ".join(p.name for p in plans))
    state = State(config.root / STATE_FILE)

    def run(plan: Any) -> None:
        data = _run_and_record(policies, plan.name, "schedule", log_, args.on_violation)
        line = json.dumps(data, sort_keys=True) if args.json else _text(data)
        print(line, flush=True)

    def missed(plan: Any, due: datetime, now: datetime) -> None:
        event = missed_event(
            plan.name, plan.vantage, rfc3339(due), rfc3339(now), policies.inventory
        )
        append_events(log_, [event])
        log.warning("%s: the run due at %s was missed", plan.name, rfc3339(due))

    scheduler = Scheduler(plans, state, run, missed)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.loop(stop, max_runs=args.max_runs)
    return 0
