"""``edgeaudit probe run|schedule``: probe a plan from this vantage point and append the
records, or run plans on their cron expressions (or write systemd units for them)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.errors import InputError

if TYPE_CHECKING:  # the rest is imported where it is used: probe run starts light
    from datetime import datetime

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
    import shlex
    import subprocess

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


def _record(report: Any, log_: Any, on_violation: str | None) -> dict[str, Any]:
    """Append the run's records (one transaction) and run the hook; the run's JSON."""
    from edgeaudit.probe.records import append_events

    appended = append_events(log_, report.events)
    data = {**report.to_dict(), "appended": appended.appended}
    if report.violations and on_violation:
        _hook(on_violation, data)
    return data


def _run_and_record(
    policies: Any, plan: str, trigger: str, log_: Any, on_violation: str | None
) -> dict[str, Any]:
    from edgeaudit.probe.records import recorded_references
    from edgeaudit.probe.run import run_plan

    report = run_plan(policies, plan, trigger, lambda a, b: recorded_references(log_, a, b))
    return _record(report, log_, on_violation)


def cmd_probe(args: argparse.Namespace) -> int:
    """``edgeaudit probe run|schedule``. A run into the workspace's own log, stored in an
    SQLite file that exists, starts its engine before the store is imported and opened
    (:func:`_run_early`); anything else takes the path of every other command: the store
    first (``commands.cmd_probe``)."""
    from edgeaudit.workspace import config as cfg

    config = cfg.load(cfg.find_root(args.workspace))
    if _early(args, config):
        return _run_early(args, config)
    from edgeaudit.cli.commands import cmd_probe as store_first

    return store_first(args)


def _early(args: argparse.Namespace, config: WorkspaceConfig) -> bool:
    """Whether the engine may start before the store is opened: a run of one plan into the
    workspace's own log (``--log`` of another log is refused, or checked against the store,
    before anything is sent) in an SQLite store whose file exists (a missing store is the
    store's own error, before anything is sent; PostgreSQL is reached over the network, so
    its errors are found first too)."""
    if args.action != "run" or len(args.plan or []) != 1:
        return False
    if args.log is not None and args.log != config.origin:
        return False
    prefix = "sqlite:///"
    url = config.db_url
    if not url.startswith(prefix) or "?" in url:
        return False
    return Path(url[len(prefix) :]).is_file()


def _run_early(args: argparse.Namespace, config: WorkspaceConfig) -> int:
    """``probe run`` with a child process that loads the policy files, checks the plan (the
    trigger, the vantage, the scope guard: all before its first packet), probes, decides and
    prepares the records, while this process imports and opens the store on the other core.

    The errors are the store-first path's, in its order: a store that cannot be opened is
    reported (and the child stopped at once, nothing recorded) before a bad policy file, plan,
    trigger or vantage and before the engine's own errors, which the child hands back as
    themselves. A store found damaged (also by the page check every first write makes, done
    here while the child probes), empty or another workspace's fails as before (exit 2) with
    nothing written; a missing one never gets here (:func:`_early`). The child's log lines
    are printed by this process, once the store is open (none when it cannot be opened, as
    before: the policy files were not read then).

    When a recorded reference could change a result (a silent UDP probe in a run whose
    controls answered) the child hands back what the engine collected, and this process
    decides with the store's references."""
    from edgeaudit.probe.background import start

    def probe() -> tuple[Any, ...]:  # in the child
        from edgeaudit.probe.records import prepared
        from edgeaudit.probe.run import finish_run, prepare_run

        run = prepare_run(_policies(args, config), args.plan[0], args.trigger)
        collected = run.engine.run(run.probes, run.params)
        report = finish_run(run, collected)
        if report.wants_references:
            return ("collected", collected)
        return ("report", report.to_dict(), report.violations, prepared(report.events))

    running = start(probe)
    try:
        from edgeaudit.cli.commands import _open  # the store is imported while the child probes
        from edgeaudit.store import health

        store, log_ = _open(config, args, writes="probe run")
    except BaseException:
        running.stop()
        raise
    with store:
        try:
            # the page check of the first write (SQLite quick_check: it reads the whole file),
            # also while the child probes; the append then does not repeat it
            health.check_before_first_write(store.engine)
            answer = running.result()
        finally:
            running.stop()
        assert isinstance(answer, tuple)
        if answer[0] == "collected":
            data = _decide_here(args, config, answer[1], log_)
        else:
            _, data, violations, entries = answer
            data = {**data, "appended": log_.append(entries).appended}
            if violations and args.on_violation:
                _hook(args.on_violation, data)
    return _emit(args, data)


def _decide_here(
    args: argparse.Namespace, config: WorkspaceConfig, collected: Any, log_: Any
) -> dict[str, Any]:
    """Decide what the child's engine collected, with the store's references; the policy
    files are read again (quietly: the child's warnings about them were printed)."""
    from edgeaudit.probe.records import recorded_references
    from edgeaudit.probe.run import finish_run, prepare_run

    logging.disable(logging.CRITICAL)
    try:
        run = prepare_run(_policies(args, config), args.plan[0], args.trigger)
    finally:
        logging.disable(logging.NOTSET)
    report = finish_run(run, collected, lambda a, b: recorded_references(log_, a, b))
    return _record(report, log_, args.on_violation)


def run_probe(args: argparse.Namespace, config: WorkspaceConfig, log_: Any) -> int:
    if len(args.plan or []) != 1:
        raise InputError("usage: edgeaudit probe run --plan NAME")
    policies = _policies(args, config)
    data = _run_and_record(policies, args.plan[0], args.trigger, log_, args.on_violation)
    return _emit(args, data)


def _emit(args: argparse.Namespace, data: dict[str, Any]) -> int:
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
    import shutil

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
    import signal
    import threading

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
