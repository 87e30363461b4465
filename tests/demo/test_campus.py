"""The demo campus generator: determinism, an exact manifest, and a full collect of every file."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from edgeaudit.demo import generate_campus
from edgeaudit.demo.campus import quarter
from edgeaudit.errors import ConfigError, InputError
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.collect import BUILT_IN_KINDS

SMALL = 3000
SEED = 7


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(*argv: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    return rc, buf.getvalue()


def _collect_args(out: Path, manifest: dict[str, Any], f: dict[str, Any]) -> list[str]:
    """``edgeaudit collect`` for one manifest entry; nmap scans are judged against the campus's
    copy of the isolation matrix (manifest["isolation"])."""
    args = [f["kind"], str(out / f["path"]), "--inventory", str(out / manifest["inventory"])]
    if f["kind"] == "nmap":
        args += ["--option", f"isolation={out / manifest['isolation']}"]
    return [*args, *f["args"]]


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("campus")
    return out, generate_campus(out, SMALL, seed=SEED)


def test_same_seed_and_size_give_identical_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_campus(a, 2000, seed=3)
    generate_campus(b, 2000, seed=3)
    generate_campus(c, 2000, seed=4)
    assert _hashes(a) == _hashes(b)
    assert len(_hashes(a)) >= 15
    assert _hashes(a) != _hashes(c)


def test_cli_writes_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    rc, text = _run(
        "demo", "campus", "--out", str(out), "--events", "1500", "--seed", "2", "--json"
    )
    assert rc == 0
    data = json.loads(text)
    manifest = json.loads((out / "manifest.json").read_bytes())
    assert data["totals"] == manifest["totals"]
    assert manifest["seed"] == 2
    assert manifest["start"] == "2026-07-01T00:00:00Z"
    assert manifest["end"] == "2026-10-01T00:00:00Z"


def test_quarter_and_bad_input() -> None:
    first, last = quarter("2026-11-15")
    assert (first.isoformat(), last.isoformat()) == (
        "2026-11-15T00:00:00+00:00",
        "2027-02-15T00:00:00+00:00",
    )
    with pytest.raises(InputError):
        quarter("July")
    with pytest.raises(InputError):
        generate_campus(Path("unused"), 10)


def test_clean_campus_plants_nothing(tmp_path: Path) -> None:
    from edgeaudit.demo.campus import default_inventory

    manifest = generate_campus(tmp_path / "clean", 1000, seed=3, clean=True)
    assert manifest["clean"] is True
    assert manifest["planted_sessions"] == []
    assert manifest["offboarded_principals"] == []
    assert manifest["planted_leaks"] == manifest["missed_probe_runs"] == []
    # only the records operators append (ops/): nothing planted, no missed-run record
    assert all(a["path"].startswith("ops/") for a in manifest["appends"])
    assert all(v == 0 for v in manifest["planted"].values())
    copy = (tmp_path / "clean" / manifest["inventory"]).read_bytes()
    assert copy == default_inventory().read_bytes()
    assert not (tmp_path / "clean" / "probe").exists()  # no missed-run record to append
    # the same scans as the planted campus, without the leak
    scans = sorted(f["path"] for f in manifest["files"] if f["kind"] == "nmap")
    assert len(scans) == 8
    planted = generate_campus(tmp_path / "planted", 1000, seed=3)
    (leak,) = planted["planted_leaks"]
    assert scans == sorted(f["path"] for f in planted["files"] if f["kind"] == "nmap")
    for rel in scans:
        same = (tmp_path / "clean" / rel).read_bytes() == (tmp_path / "planted" / rel).read_bytes()
        assert same == (rel != leak["scan"]), rel


def test_an_inventory_that_still_lists_the_offboarded_principal_is_refused(
    tmp_path: Path,
) -> None:
    from edgeaudit.demo._plan import OFFBOARDED
    from edgeaudit.demo.campus import collection_inventory, default_inventory

    inv = tmp_path / "inventory.yaml"
    inv.write_text(
        collection_inventory(default_inventory().read_text(encoding="utf-8"), OFFBOARDED, "x"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=OFFBOARDED["id"]):
        generate_campus(tmp_path / "out", 1000, inventory=inv)


def test_manifest_lists_every_file_with_exact_record_counts(
    campus: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = campus
    listed = {f["path"] for f in manifest["files"]}
    appended = {a["path"] for a in manifest["appends"]}
    written = set(_hashes(out)) - {"manifest.json", manifest["inventory"], manifest["isolation"]}
    assert listed == written - appended
    assert {a for a in appended if not a.startswith("ops/")} == {"probe/missed-runs.jsonl"}
    kinds = {f["kind"] for f in manifest["files"]}
    assert kinds == BUILT_IN_KINDS | {"nmap"}  # the campus covers every built-in format
    for f in manifest["files"]:
        data = (out / f["path"]).read_bytes()
        if f["path"].endswith(".gz"):
            assert len(json.loads(gzip.decompress(data))["Records"]) == f["records"]
        elif f["kind"] in ("vault-keystate", "kms-rotation", "nmap"):
            assert f["records"] == 1
        else:
            assert data.count(b"\n") == f["records"], f["path"]
    for a in manifest["appends"]:
        assert (out / a["path"]).read_bytes().count(b"\n") == a["records"] == a["events"]
    totals = manifest["totals"]
    assert totals["events"] == sum(f["events"] for f in manifest["files"])
    # the probe scans are a fixed set (two per vantage), whatever the number of events asked
    logs = sum(f["events"] for f in manifest["files"] if f["kind"] != "nmap")
    assert abs(logs - SMALL) < SMALL * 0.25
    assert all(v > 0 for v in manifest["planted"].values())
    assert manifest["planted"]["malformed_lines"] == totals["malformed"]
    assert sum(1 for f in manifest["files"] if f["malformed"]) >= 6  # several formats


@pytest.fixture(scope="module")
def collected(
    campus: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    out, manifest = campus
    ws = str(tmp_path_factory.mktemp("ws"))
    assert main(["--workspace", ws, "init"]) == 0
    summaries = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(manifest["card_key_env"], "demo-card-key")
        for f in manifest["files"]:
            rc, text = _run(
                "--workspace", ws, "collect", *_collect_args(out, manifest, f), "--json"
            )
            assert rc == 0, f["path"]
            summaries.append(json.loads(text))
    for a in manifest["appends"]:
        rc, text = _run("--workspace", ws, "append", str(out / a["path"]), "--json")
        assert rc == 0
        assert json.loads(text)["appended"] == a["events"]
    return Path(ws), manifest, summaries


def test_collect_everything_quarantines_exactly_what_was_planted(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    ws, manifest, summaries = collected
    got = {
        f["path"]: (s["events"], s["quarantined"])
        for f, s in zip(manifest["files"], summaries, strict=True)
    }
    want = {f["path"]: (f["events"], f["quarantined"]) for f in manifest["files"]}
    assert got == want
    totals = manifest["totals"]
    assert sum(s["appended"] for s in summaries) == totals["appended"]
    assert sum(s["quarantined"] for s in summaries) == totals["quarantined"]
    assert totals["quarantined"] == (
        manifest["planted"]["malformed_lines"] + manifest["planted"]["forged_journald_identifier"]
    )
    config = cfg.load(cfg.find_root(str(ws)))
    with Store.open(config.db_url) as store:
        assert store.log(config.origin).quarantine_count() == totals["quarantined"]


def test_recollect_adds_nothing_and_verify_passes(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]], campus: tuple[Path, Any]
) -> None:
    ws, manifest, _ = collected
    out = campus[0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(manifest["card_key_env"], "demo-card-key")
        for f in manifest["files"]:
            argv = _collect_args(out, manifest, f)
            rc, text = _run("--workspace", str(ws), "collect", *argv, "--json")
            assert rc == 0
            s = json.loads(text)
            assert (s["appended"], s["quarantined"]) == (0, 0), f["path"]
    for a in manifest["appends"]:
        rc, text = _run("--workspace", str(ws), "append", str(out / a["path"]), "--json")
        assert (rc, json.loads(text)["appended"]) == (0, 0)
    assert _run("--workspace", str(ws), "verify")[0] == 0


def _events(ws: Path) -> list[dict[str, Any]]:
    config = cfg.load(cfg.find_root(str(ws)))
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        return [json.loads(body) for _, body, _, _ in reader.iter_entries()]


def test_every_planted_violation_is_in_the_stored_events(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    ws, manifest, _ = collected
    planted = manifest["planted"]
    events = _events(ws)

    def count(kind: str, pred: Any) -> int:
        return sum(1 for e in events if e["kind"] == kind and pred(e))

    approvals = [e for e in events if e["kind"] == "grant.approve"]
    assert (
        count("grant.approve", lambda e: e["grant"].get("admin_override"))
        == planted["admin_override_approval"]
    )
    requesters = {
        e["grant"]["id"]: e["actor"].get("principal")
        for e in events
        if e["kind"] == "grant.request"
    }
    self_approved = [
        a for a in approvals if requesters[a["grant"]["id"]] == a["actor"]["principal"]
    ]
    assert len(self_approved) == planted["self_approved_grant"]
    assert self_approved[0]["actor"]["principal"] == "meera.s"

    def hours(e: dict[str, Any]) -> float:
        from edgeaudit.events import parse_utc_time

        return (parse_utc_time(e["attrs"]["max_duration"])[1] - parse_utc_time(e["time"])[1]) / 3600

    assert count("grant.request", lambda e: hours(e) > 4) == planted["overlong_grant"]
    outside = count("auth.logon", lambda e: e.get("attrs", {}).get("cert_serial", 0) >= 900_000)
    assert outside == planted["admin_session_outside_grant"]
    assert (
        count("auth.logon", lambda e: e["actor"]["user"] == "breakglass")
        == planted["unreviewed_breakglass_login"]
    )
    cross = count(
        "key.use",
        lambda e: (
            e["actor"].get("principal") == "svc-media-b" and e["key"].get("owner") == "fintech-a"
        ),
    )
    assert cross == planted["cross_tenant_key_use"]
    assert count("key.use", lambda e: e["actor"].get("principal") == "svc-fintech-a") > 10

    def stale(e: dict[str, Any]) -> bool:
        from edgeaudit.events import parse_utc_time

        latest = e["attrs"].get("latest_version_created")
        return latest is not None and (
            parse_utc_time(e["time"])[1] - parse_utc_time(latest)[1] > 365 * 86400
        )

    stale_keys = {e["key"]["key"] for e in events if e["kind"] == "key.state" and stale(e)}
    assert len(stale_keys) == planted["key_past_rotation_age"]
    # one per key, and media-b's key once more after its configuration changed
    assert count("key.state", lambda e: True) == 6
    night = count(
        "physical.access",
        lambda e: e["actor"].get("principal") == "arjun.p" and e["time_text"][11:13] < "06",
    )
    assert night == planted["badge_outside_maintenance_window"]
    # certificate logins resolve to the principal named by the key id
    certs = [e for e in events if e["kind"] == "auth.logon" and "cert_serial" in e.get("attrs", {})]
    assert certs
    assert all(e["actor"].get("principal") in ("ravi.k", "meera.s", "arjun.p") for e in certs)
    sessions = [e for e in events if e["kind"] == "session.start" and e["source"] == "teleport"]
    assert sessions
    assert all(e["grant"]["id"] in requesters for e in sessions if "grant" in e)
    standing = [e for e in sessions if "grant" not in e]
    assert len(standing) == planted["teleport_session_without_grant"]


def _planted(manifest: dict[str, Any], kind: str) -> dict[str, Any]:
    (one,) = [s for s in manifest["planted_sessions"] if s["kind"] == kind]
    return one


def _t(text: str) -> float:
    from edgeaudit.events import parse_utc_time

    return parse_utc_time(text)[1]


def test_planted_sessions_are_stored_as_the_manifest_lists_them(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    ws, manifest, _ = collected
    events = _events(ws)
    planted = manifest["planted"]
    kinds = [s["kind"] for s in manifest["planted_sessions"]]
    assert kinds.count("no_grant") == planted["admin_session_outside_grant"]
    assert kinds.count("standing_role") == planted["teleport_session_without_grant"] == 1
    assert kinds.count("overstay") == planted["session_past_grant_expiry"] == 1
    assert kinds.count("root_shell") == planted["root_shell_outside_grant"] == 1

    def on(asset: str, kind: str, source: str) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if e["kind"] == kind
            and e["source"] == source
            and e.get("target", {}).get("asset") == asset
        ]

    # 1. a Teleport session of about 90 minutes through a standing role: no access request
    s = _planted(manifest, "standing_role")
    assert (s["principal"], s["asset"]) == ("arjun.p", "fa-db-01")
    (start,) = [
        e
        for e in on(s["asset"], "session.start", "teleport")
        if e["actor"].get("session") == s["teleport_sid"]
    ]
    (end,) = [
        e
        for e in on(s["asset"], "session.end", "teleport")
        if e["actor"].get("session") == s["teleport_sid"]
    ]
    assert start["actor"]["principal"] == "arjun.p"
    assert "grant" not in start
    assert "access_requests" not in start.get("attrs", {})
    assert 80 * 60 <= _t(end["time"]) - _t(start["time"]) <= 100 * 60

    # 2. an SSH session (journald) opened inside a 2 h grant, closed hours after its expiry
    s = _planted(manifest, "overstay")
    assert (s["principal"], s["asset"]) == ("ravi.k", "ac-gpu-01")
    (request,) = [
        e for e in events if e["kind"] == "grant.request" and e["grant"]["id"] == s["grant"]
    ]
    (approval,) = [
        e for e in events if e["kind"] == "grant.approve" and e["grant"]["id"] == s["grant"]
    ]
    expires = _t(request["grant"]["expires"])
    assert expires == pytest.approx(_t(s["grant_expires"]), abs=1)
    by_pid = [
        e
        for kind in ("auth.logon", "session.start", "auth.logoff", "session.end")
        for e in on(s["asset"], kind, "journald")
        if e["attrs"].get("pid") == s["pid"]
    ]
    # one of each, all with sshd's pid (collected in this order: start records, then ends)
    assert [e["kind"] for e in by_pid] == [
        "auth.logon",
        "session.start",
        "auth.logoff",
        "session.end",
    ]
    assert {e["target"]["account"] for e in by_pid} == {"ravi"}
    assert by_pid[0]["actor"]["principal"] == "ravi.k"
    assert _t(approval["time"]) < _t(by_pid[0]["time"]) < expires
    assert _t(by_pid[-1]["time"]) - expires > 2 * 3600

    # 3. `sudo -i` by an operator on a tenant host: a root shell, closed by its exit record
    s = _planted(manifest, "root_shell")
    assert (s["principal"], s["asset"]) == ("meera.s", "mb-render-02")
    (switch,) = [
        e
        for e in on(s["asset"], "priv.switch", "sudo-json")
        if e["actor"].get("session") == s["sudo_uuid"]
    ]
    (done,) = [
        e
        for e in on(s["asset"], "session.end", "sudo-json")
        if e["actor"].get("session") == s["sudo_uuid"]
    ]
    assert switch["actor"]["principal"] == "meera.s"
    assert switch["target"]["account"] == "root"
    assert switch["attrs"]["command"] == "/bin/bash"
    assert 30 * 60 <= _t(done["time"]) - _t(switch["time"]) <= 60 * 60
    granted = [
        e
        for e in events
        if e["kind"] == "grant.request"
        and e["actor"].get("principal") == "meera.s"
        and e.get("target", {}).get("asset") == "mb-render-02"
    ]
    assert granted == []


def test_offboarded_principal_is_in_the_collection_inventory_only(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]], campus: tuple[Path, Any]
) -> None:
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.demo.campus import default_inventory

    ws, manifest, _ = collected
    (gone,) = manifest["offboarded_principals"]
    assert load_inventory(default_inventory()).principal(gone) is None
    assert load_inventory(campus[0] / manifest["inventory"]).principal(gone) is not None
    # the campus copy is the policies' inventory plus the offboarded principal, comments kept
    copy = (campus[0] / manifest["inventory"]).read_text(encoding="utf-8")
    original = default_inventory().read_text(encoding="utf-8")
    assert set(original.splitlines()) <= set(copy.splitlines())
    assert "offboarded on 2026-08-14" in copy
    uses = [
        e for e in _events(ws) if e["kind"] == "key.use" and e["actor"].get("principal") == gone
    ]
    assert len(uses) == manifest["planted"]["offboarded_principal_key_use"]
    assert {(u["key"]["key"], u["key"]["owner"]) for u in uses} == {("fintech-a-data", "fintech-a")}
    assert all(_t(u["time"]) < _t("2026-08-14T00:00:00Z") for u in uses)


def test_every_session_record_names_a_known_principal(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    """Logons, session starts and privilege switches on inventory hosts all resolve to a
    principal of policies/inventory.yaml (the render service account included), except the
    break-glass account, which no principal owns."""
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.demo.campus import default_inventory

    ws, _, _ = collected
    inv = load_inventory(default_inventory())
    unresolved = set()
    principals = set()
    for e in _events(ws):
        if e["kind"] not in ("auth.logon", "session.start", "priv.switch"):
            continue
        if (
            e.get("outcome") != "success"
            or inv.asset(e.get("target", {}).get("asset") or "") is None
        ):
            continue
        p = e["actor"].get("principal")
        if p is None:
            unresolved.add(e["actor"].get("user"))
        else:
            principals.add(p)
    assert unresolved <= {"breakglass"}
    assert principals <= {p.id for p in inv.principals}
    assert "svc-media-b" in principals  # `render` on mb-render-02 is media-b's own service


def test_clean_sessions_end_inside_their_grants() -> None:
    """Without planted sessions, every access stays inside its grant (a session ends before
    the grant expires; no pid repeats on a host), so the policy engine has nothing to fail."""
    from edgeaudit.demo._plan import GRANT_GRACE, admin_sessions

    first, last = quarter("2026-07-01")
    t0, t1 = first.timestamp(), last.timestamp()
    sessions = list(admin_sessions(SEED, t0, t1, 200, clean=True))
    assert {s.kind for s in sessions} == {"normal", "denied"}
    for s in sessions:
        assert s.approved < s.start < s.end <= s.expires - GRANT_GRACE
        assert all(s.start < t < s.end for t, _, _ in s.commands)
    pids = [p for s in sessions for p in (s.pid, *(c[2] for c in s.commands))]
    assert len(pids) == len(set(pids))


def test_nmap_scans_cover_every_pair_of_the_matrix_with_one_planted_leak(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    """Two scans per vantage: every other segment's inventory addresses on the ports the plans
    name; every allowed path answers (positive controls pass), every denied path is rejected
    by the firewall (blocked, UDP too: never inconclusive), except the planted leak on the
    latest scan of its vantage."""
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.demo.campus import default_inventory, default_policy
    from edgeaudit.policy.isolation import load_isolation
    from edgeaudit.probe.plan import expand, load_plans

    ws, manifest, _ = collected
    events = _events(ws)
    runs = {e["attrs"]["run"]: e for e in events if e["kind"] == "probe.run"}
    results = [e for e in events if e["kind"] == "probe.result"]
    scans = [f for f in manifest["files"] if f["kind"] == "nmap"]
    assert len(runs) == len(scans) == 8
    assert sorted(r["attrs"]["vantage"] for r in runs.values()) == sorted(
        [f["vantage"] for f in scans]
    )
    assert {r["attrs"]["vantage"] for r in runs.values()} == {
        "seg-mgmt",
        "seg-fintech",
        "seg-media",
        "seg-ai",
    }
    assert all(r["attrs"]["controls_ok"] for r in runs.values())
    assert all(r["attrs"]["engine"] == "nmap/7.94" for r in runs.values())
    assert {r["attrs"]["started"][:10] for r in runs.values()} == {"2026-07-14", "2026-09-15"}
    inv = load_inventory(default_inventory())
    matrix = load_isolation(default_policy("isolation.yaml"), inv)
    plans = load_plans(default_policy("probes.yaml"), inv, matrix)
    for run in runs.values():
        plan = plans[run["attrs"]["plan"]]
        assert plan.vantage == run["attrs"]["vantage"]
        got = {
            (e["attrs"]["address"], e["attrs"]["protocol"], e["attrs"]["port"])
            for e in results
            if e["attrs"]["run"] == run["attrs"]["run"]
        }
        # every TCP/UDP probe of the plan (nmap probes no ICMP per port), on one port list
        wanted = {(p.address, p.protocol, p.port) for p in expand(plan, inv, matrix)}
        assert {w for w in wanted if w[1] in ("tcp", "udp")} <= got
        assert {a for a, _, _ in got} == {a for a, _, _ in wanted}
    pairs = {(r["attrs"]["vantage"], r["attrs"]["segment"]) for r in results}
    assert pairs == {(p.src, p.dst) for p in matrix.pairs([s.id for s in inv.segments])}

    (leak,) = manifest["planted_leaks"]
    assert manifest["planted"]["denied_path_reachable"] == 1
    assert (leak["vantage"], leak["asset"], leak["protocol"], leak["port"]) == (
        "seg-ai",
        "fa-db-01",
        "tcp",
        5432,
    )
    latest = max(
        (r for r in runs.values() if r["attrs"]["vantage"] == leak["vantage"]),
        key=lambda r: r["time"],
    )
    assert latest["time"] == leak["started"]
    verdicts: Counter[str] = Counter()
    for e in results:
        a = e["attrs"]
        key = (a["vantage"], a["address"], a["protocol"], a["port"])
        is_leak = key == (leak["vantage"], leak["address"], leak["protocol"], leak["port"])
        if is_leak and a["run"] == latest["attrs"]["run"]:
            assert (a["expected"], a["verdict"], e["outcome"]) == ("deny", "reachable", "failure")
            assert e["target"] == {"asset": "fa-db-01", "owner": "fintech-a"}
        elif a["expected"] == "deny":
            assert a["verdict"] == "blocked", key
            assert a["reasons"][0].startswith("icmp 3/13 from ")  # rejected by the firewall
        else:
            assert a["verdict"] == "reachable", key
        verdicts[a["verdict"]] += 1
    assert verdicts["reachable"] > 50
    assert "inconclusive" not in verdicts
    by_run = {r: v["attrs"]["violations"] for r, v in runs.items()}
    assert sorted(by_run.values()) == [0] * 7 + [1]
    assert by_run[latest["attrs"]["run"]] == 1
    assert latest["outcome"] == "failure"


def test_the_missed_run_is_what_the_scheduler_records(
    collected: tuple[Path, dict[str, Any], list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The planted probe.missed entry is the record `edgeaudit probe schedule` appends when its
    scheduler wakes at the manifest's detection time, its plan's due run having passed."""
    from edgeaudit.collect.inventory import load_inventory
    from edgeaudit.demo.campus import default_policy
    from edgeaudit.policy.isolation import load_isolation
    from edgeaudit.probe.plan import load_plans
    from edgeaudit.probe.records import missed_event
    from edgeaudit.probe.schedule import Scheduler, State, rfc3339

    ws, manifest, _ = collected
    (miss,) = manifest["missed_probe_runs"]
    assert manifest["planted"]["missed_probe_run"] == 1
    (stored,) = [e for e in _events(ws) if e["kind"] == "probe.missed"]
    assert stored["attrs"] == {k: miss[k] for k in ("plan", "vantage", "due", "detected")}
    assert (stored["outcome"], stored["scope"], stored["time"]) == (
        "failure",
        ["media-b"],
        miss["due"],
    )

    inv = load_inventory(default_policy("inventory.yaml"))
    matrix = load_isolation(default_policy("isolation.yaml"), inv)
    plan = load_plans(default_policy("probes.yaml"), inv, matrix)[miss["plan"]]
    due, detected = (datetime.fromisoformat(miss[k]) for k in ("due", "detected"))
    state = State(tmp_path / "probe-schedule.json")
    state.last[plan.name] = due - timedelta(days=6)  # handled the week before, then went down
    records: list[dict[str, Any]] = []
    ran: list[str] = []
    scheduler = Scheduler(
        [plan],
        state,
        lambda p: ran.append(p.name),
        lambda p, d, now: records.append(
            missed_event(p.name, p.vantage, rfc3339(d), rfc3339(now), inv).to_record()
        ),
    )
    scheduler.tick(detected)
    assert records == [stored]
    assert ran == [plan.name]  # the catch-up run (its evidence is not part of the campus)
