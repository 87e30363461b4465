"""The scheduler: due times, missed runs, the persisted state, systemd units; and the real
``probe schedule`` process run briefly inside the vantage namespace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edgeaudit.errors import InputError
from edgeaudit.probe.plan import Plan
from edgeaudit.probe.schedule import Scheduler, State, due_times, on_calendar, systemd_units
from tests.probe.conftest import Workspace


def plan(name: str = "p", cron: str | None = "*/5 * * * *") -> Plan:
    return Plan(name, "seg-v", cron, ("seg-b",), (), (), (), 100, 3, 0.5, True, False, 1)


T0 = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)


def test_due_times() -> None:
    got = due_times("0 3 * * 1", T0 - timedelta(days=15), T0)
    assert got == [T0 - timedelta(days=14), T0 - timedelta(days=7), T0]
    assert due_times("0 3 * * 1", T0, T0 + timedelta(days=6)) == []


class Recorder:
    def __init__(self) -> None:
        self.runs: list[str] = []
        self.missed: list[tuple[str, datetime, datetime]] = []

    def run(self, p: Plan) -> None:
        self.runs.append(p.name)

    def miss(self, p: Plan, due: datetime, now: datetime) -> None:
        self.missed.append((p.name, due, now))


def test_missed_runs_and_catch_up(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    rec = Recorder()
    s = Scheduler([plan()], State(state_path), rec.run, rec.miss)
    assert s.tick(T0) == []  # first start: remember the time, nothing missed
    assert rec.runs == []
    # on time: due at 03:05, seen at 03:05:10 -> one run, no miss
    s.tick(T0 + timedelta(minutes=5, seconds=10))
    assert rec.runs == ["p"]
    assert rec.missed == []
    # down from 03:06 to 03:21:30: 03:10, 03:15, 03:20 passed unseen
    s.state.last["p"] = T0 + timedelta(minutes=6)
    now = T0 + timedelta(minutes=21, seconds=30)
    ticks = s.tick(now)
    assert [d.minute for _, d, _ in rec.missed] == [10, 15, 20]
    assert all(n == now for _, _, n in rec.missed)
    assert rec.runs == ["p", "p"]  # one catch-up run
    assert ticks[0].run
    # the state survives a restart
    again = State(state_path)
    assert again.last["p"] == now


def test_a_failing_run_is_not_retried_in_a_loop(tmp_path: Path) -> None:
    calls = []

    def boom(p: Plan) -> None:
        calls.append(p.name)
        raise RuntimeError("no route")

    s = Scheduler([plan()], State(tmp_path / "s.json"), boom, lambda *a: None)
    s.tick(T0)
    s.tick(T0 + timedelta(minutes=5))
    s.tick(T0 + timedelta(minutes=5, seconds=1))
    assert calls == ["p"]


def test_bad_state_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="not a probe schedule state file"):
        State(path)


def test_plans_without_cron_cannot_be_scheduled(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no plan to schedule"):
        Scheduler([plan(cron=None)], State(tmp_path / "s.json"), print, print)


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("0 3 * * 1", "Mon *-*-* 3:0:00"),
        ("15 3 * * 1-5", "Mon..Fri *-*-* 3:15:00"),
        ("*/15 * * * *", "*-*-* *:0/15:00"),
        ("30 2 1,15 * *", "*-*-1,15 2:30:00"),
        ("0 0 1 */3 *", "*-1/3-1 0:0:00"),
        ("0 4 * * 0,6", "Sun,Sat *-*-* 4:0:00"),
    ],
)
def test_on_calendar(cron: str, calendar: str) -> None:
    assert on_calendar(cron) == calendar


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 3 1 * 1", "day-of-month OR day-of-week"),
        ("0 3 * * mon", "5 numeric fields"),
        ("*/5 * * * * */10", "5 numeric fields"),
        ("0 1-10/2 * * *", "stepped range"),
    ],
)
def test_on_calendar_refuses(cron: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        on_calendar(cron)


def test_systemd_units(tmp_path: Path) -> None:
    units = systemd_units(
        [plan("fin", "0 3 * * 1"), plan("adhoc", None)], tmp_path, "/usr/bin/edgeaudit", "nsv"
    )
    assert sorted(units) == ["edgeaudit-probe-fin.service", "edgeaudit-probe-fin.timer"]
    service = units["edgeaudit-probe-fin.service"]
    assert "Type=oneshot\n" in service
    assert (
        f"ExecStart=/usr/sbin/ip netns exec nsv /usr/bin/edgeaudit --workspace {tmp_path} "
        "probe run --plan fin --trigger schedule\n"
    ) in service
    timer = units["edgeaudit-probe-fin.timer"]
    assert "OnCalendar=Mon *-*-* 3:0:00\n" in timer
    assert "Persistent=true\n" in timer
    assert "Unit=edgeaudit-probe-fin.service\n" in timer
    assert "WantedBy=timers.target\n" in timer


def test_cli_writes_units(workspace_nonet: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "units"
    from tests.probe.test_cli import run_cli

    code, stdout, _ = run_cli(
        workspace_nonet, "probe", "schedule", "--systemd", str(out), "--plan", "main", "--json"
    )
    assert code == 0
    written = sorted(Path(p).name for p in json.loads(stdout)["written"])
    assert written == ["edgeaudit-probe-main.service", "edgeaudit-probe-main.timer"]
    assert "OnCalendar=*-*-* *:0/5:00" in (out / "edgeaudit-probe-main.timer").read_text()


def test_schedule_process_records_missed_runs_and_runs(workspace: Workspace) -> None:
    """`probe schedule` inside the vantage namespace, after (pretended) downtime."""
    now = datetime.now(UTC)
    boundary = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    last = boundary - timedelta(minutes=12)
    (workspace.root / "probe-schedule.json").write_text(
        json.dumps({"last": {"main": last.isoformat()}})
    )
    before = {r["attrs"]["run"] for r in workspace.records("probe.run")}
    # no --plan: the scheduled plans whose vantage segment is here (main, from seg-v)
    done = workspace.probe("v", "schedule", "--max-runs", "1", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout.splitlines()[0])
    assert run["trigger"] == "schedule"
    missed = sorted(r["attrs"]["due"] for r in workspace.records("probe.missed"))
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    sure = [(boundary - timedelta(minutes=m)).strftime(fmt) for m in (10, 5)]
    maybe = boundary.strftime(fmt)  # missed only if more than a minute has passed since
    assert missed in (sure, [*sure, maybe])
    assert "was missed" in done.stderr
    runs = [r for r in workspace.records("probe.run") if r["attrs"]["run"] not in before]
    assert [r["attrs"]["trigger"] for r in runs] == ["schedule"]
    state = json.loads((workspace.root / "probe-schedule.json").read_text())
    assert datetime.fromisoformat(state["last"]["main"]) >= now
