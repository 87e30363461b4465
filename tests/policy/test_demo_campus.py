"""The policy engine on the demo campus: every planted violation is found with the right rule,
principal, asset and evidence entries; the clean variant of the same campus fails nothing."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edgeaudit.cli.main import main
from edgeaudit.demo import generate_campus
from edgeaudit.demo._plan import PLANTED_SERIAL, UNCOVERED_KINDS
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SMALL = 3000
SEED = 11


def _run(*argv: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    return rc, buf.getvalue()


def _workspace(root: Path, clean: bool) -> tuple[Path, dict[str, Any]]:
    ws = root / ("clean" if clean else "planted")
    assert main(["--workspace", str(ws), "init", "--site", "blr-pod-1"]) == 0
    manifest = generate_campus(ws / "campus", SMALL, seed=SEED, clean=clean)
    rc, _ = _run("--workspace", str(ws), "demo", "collect", "--out", str(ws / "campus"))
    assert rc == 0
    for a in manifest["appends"]:  # the missed probe run: demo collect collects files only
        assert _run("--workspace", str(ws), "append", str(ws / "campus" / a["path"]))[0] == 0
    shutil.copytree(POLICIES, ws / "policies")
    assert _run("--workspace", str(ws), "checkpoint")[0] == 0
    return ws, manifest


def _evaluate(ws: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    rc, out = _run("--workspace", str(ws), "evaluate", "--quarter", "2026Q3", "--json", *extra)
    return rc, json.loads(out)


def _entries(ws: Path) -> dict[int, dict[str, Any]]:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store, store.log(config.origin).reader() as reader:
        return {i: json.loads(body) for i, body, _, _ in reader.iter_entries()}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return _workspace(tmp_path_factory.mktemp("policy-campus"), clean=False)


@pytest.fixture(scope="module")
def assessed(planted: tuple[Path, dict[str, Any]]) -> tuple[int, dict[str, Any], dict[int, Any]]:
    ws, _ = planted
    rc, data = _evaluate(ws)
    return rc, data, _entries(ws)


def _failing(data: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [r for r in data["results"] if r["rule"] == rule and r["status"] == "fail"]


def _cited(result: dict[str, Any], entries: dict[int, Any]) -> list[dict[str, Any]]:
    return [entries[e["index"]] for e in result["evidence"]]


# results per segmentation rule: 12 ordered pairs of the 4 segments; 6 of them allowed
SEG_RULES = Counter(
    {
        "segmentation-cadence": 12,
        "segmentation-denied-blocked": 12,
        "segmentation-allowed-reachable": 6,
    }
)


def _segmentation(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in data["results"] if r["rule"] in SEG_RULES]


def test_the_planted_campus_fails_and_the_run_is_recorded(assessed: Any) -> None:
    rc, data, entries = assessed
    assert rc == 1
    first = data["recorded"]["first_index"]
    recorded = [e for i, e in entries.items() if i >= first]
    assert len(recorded) == len(data["results"]) == data["recorded"]["appended"]
    assert {e["kind"] for e in recorded} == {"policy.result"}
    assert {e["result"]["id"] for e in recorded} == {r["id"] for r in data["results"]}
    # every citation is an entry of the store, with its leaf hash
    for r in data["results"]:
        for ref in r["evidence"]:
            assert ref["index"] < data["assessment"]["tree_size"]


def _t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _judged(result: dict[str, Any], planted_session: dict[str, Any]) -> list[dict[str, Any]]:
    """The uncovered logon sessions of a result that start with the planted session (one per
    source that recorded it: Teleport and the host each log the access)."""
    start = _t(planted_session["start"])
    judged = [
        j
        for j in result["observed"]["uncovered_sessions"]
        if j["action"] == "admin.session" and abs(_t(j["start"]) - start) <= 3
    ]
    assert judged
    return judged


def test_sessions_not_covered_by_a_grant(assessed: Any, planted: Any) -> None:
    _, data, entries = assessed
    manifest = planted[1]
    uncovered = [s for s in manifest["planted_sessions"] if s["kind"] in UNCOVERED_KINDS]
    fails = {
        (r["scope"]["principal"], r["scope"]["asset"]): r
        for r in _failing(data, "jit-session-covered")
    }
    # exactly the (principal, asset) pairs of the planted sessions; nothing unresolved
    assert set(fails) == {(s["principal"], s["asset"]) for s in uncovered}
    for r in fails.values():
        records = [
            e for e in _cited(r, entries) if e["kind"] not in ("grant.approve", "grant.request")
        ]
        assert {e["target"]["asset"] for e in records} == {r["scope"]["asset"]}
        assert r["observed"]["uncovered_s"] > 0
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for s in uncovered:
        by_kind.setdefault(s["kind"], []).append(s)

    # direct SSH with certificates Teleport never issued
    logons = [
        e
        for (_, asset), r in fails.items()
        if asset in {s["asset"] for s in by_kind["no_grant"]}
        for e in _cited(r, entries)
        if e["kind"] == "auth.logon"
    ]
    assert len(logons) == manifest["planted"]["admin_session_outside_grant"]
    assert all(e["attrs"].get("cert_serial", 0) >= PLANTED_SERIAL for e in logons)

    # 1. a Teleport session of about 90 minutes with no grant at all
    (s,) = by_kind["standing_role"]
    r = fails[(s["principal"], s["asset"])]
    judged = _judged(r, s)
    assert "teleport" in {src for j in judged for src in j["sources"]}
    for j in judged:
        assert j["end_evidenced"] is True
        assert j["grants"] == []
        assert 80 * 60 <= j["uncovered_s"] <= 100 * 60
    sessions = [e for e in _cited(r, entries) if e["kind"] == "session.start"]
    assert s["teleport_sid"] in {e["actor"].get("session") for e in sessions}

    # 2. an SSH session opened under a 2 h grant, still open hours after it expired
    (s,) = by_kind["overstay"]
    r = fails[(s["principal"], s["asset"])]
    judged = _judged(r, s)
    assert {"journald", "teleport"} <= {src for j in judged for src in j["sources"]}
    past = _t(s["end"]) - _t(s["grant_expires"]) - 300  # beyond the grant and its grace
    for j in judged:
        assert s["grant"] in j["grants"]  # the grant covered its first part
        assert j["uncovered_s"] == pytest.approx(past, abs=3)
        assert j["uncovered_s"] > 2 * 3600
    logon = [e for e in _cited(r, entries) if e["kind"] == "auth.logon"]
    assert {e["attrs"]["pid"] for e in logon} == {s["pid"]}

    # 3. `sudo -i` on a tenant host outside any grant, ended by the shell's exit
    (s,) = by_kind["root_shell"]
    r = fails[(s["principal"], s["asset"])]
    assert r["scope"]["tenant"] == "media-b"
    (j,) = r["observed"]["uncovered_sessions"]
    assert (j["action"], j["account"], j["sources"]) == ("priv.switch", "root", ["sudo-json"])
    assert j["end_evidenced"] is True
    assert j["uncovered_s"] == pytest.approx(_t(s["end"]) - _t(s["start"]), abs=2)
    kinds = sorted(e["kind"] for e in _cited(r, entries))
    assert kinds == ["priv.switch", "session.end"]
    assert {e["actor"]["session"] for e in _cited(r, entries)} == {s["sudo_uuid"]}


def test_self_approval_override_and_overlong_grant(assessed: Any) -> None:
    _, data, entries = assessed
    (self_approved,) = _failing(data, "jit-no-self-approval")
    assert self_approved["scope"] == {
        "principal": "meera.s",
        "asset": "fa-web-01",
        "tenant": "fintech-a",
    }
    approvals = [e for e in _cited(self_approved, entries) if e["kind"] == "grant.approve"]
    assert [e["actor"]["principal"] for e in approvals] == ["meera.s"]

    (override,) = _failing(data, "jit-admin-override")
    assert override["scope"]["principal"] == "arjun.p"
    assert override["scope"]["asset"] == "ac-gpu-01"
    kinds = Counter(e["kind"] for e in _cited(override, entries))
    assert kinds["grant.approve"] == 1
    assert kinds["grant.review"] == 0

    (overlong,) = _failing(data, "jit-grant-duration")
    assert (overlong["scope"]["principal"], overlong["scope"]["asset"]) == ("ravi.k", "fa-db-01")
    assert "8.0 h" in overlong["reason"]


def test_unreviewed_breakglass(assessed: Any) -> None:
    _, data, entries = assessed
    (bg,) = _failing(data, "breakglass-reviewed")
    cited = _cited(bg, entries)
    (logon,) = [e for e in cited if e["kind"] == "auth.logon"]
    assert logon["target"]["account"] == "breakglass"
    assert logon["target"]["asset"] == bg["scope"]["asset"] == "bastion-1"
    assert {e["target"]["account"] for e in cited} == {"breakglass"}


def test_cross_tenant_key_use_and_rotation_age(assessed: Any, planted: Any) -> None:
    _, data, entries = assessed
    by_principal = {r["scope"]["principal"]: r for r in _failing(data, "key-tenant-use")}
    assert set(by_principal) == {"svc-media-b", *planted[1]["offboarded_principals"]}
    cross = by_principal["svc-media-b"]
    assert cross["scope"] == {
        "tenant": "fintech-a",
        "key": "fintech-a-data",
        "principal": "svc-media-b",
    }
    uses = _cited(cross, entries)
    assert len(uses) == planted[1]["planted"]["cross_tenant_key_use"]
    assert {(u["actor"]["principal"], u["key"]["owner"]) for u in uses} == {
        ("svc-media-b", "fintech-a")
    }
    assert _failing(data, "key-rotation-age") == []  # the one too old is waived (below)


def test_key_use_by_an_offboarded_principal(assessed: Any, planted: Any) -> None:
    """Collected while kiran.m was in the inventory (the campus's copy), judged after they
    left policies/inventory.yaml: a failure that says so, never an exception."""
    _, data, entries = assessed
    (gone,) = planted[1]["offboarded_principals"]
    (r,) = [r for r in _failing(data, "key-tenant-use") if r["scope"]["principal"] == gone]
    assert r["scope"] == {"tenant": "fintech-a", "key": "fintech-a-data", "principal": gone}
    assert "not in the inventory" in r["reason"]
    uses = _cited(r, entries)
    assert len(uses) == planted[1]["planted"]["offboarded_principal_key_use"]
    assert {(u["kind"], u["actor"]["principal"], u["key"]["key"]) for u in uses} == {
        ("key.use", gone, "fintech-a-data")
    }


def test_waivers(assessed: Any, planted: Any) -> None:
    """policies/waivers.yaml: a waiver approved by the very principal the result is about stays
    failing with the reason; one by the Accountable party (key-custody) waives the result."""
    _, data, entries = assessed
    (own,) = _failing(data, "jit-grant-duration")
    assert (own["scope"]["principal"], own["scope"]["asset"]) == ("ravi.k", "fa-db-01")
    assert "W-2026-015" in own["reason"]
    assert "not valid" in own["reason"]
    assert "ravi.k" in own["reason"].split("not valid", 1)[1]
    assert "waiver" not in own or own["waiver"] is None

    (waived,) = [r for r in data["results"] if r["status"] == "waived"]
    assert waived["rule"] == "key-rotation-age"
    assert waived["scope"] == {"tenant": "media-b", "key": "media-b-data"}
    assert waived["waiver"]["id"] == "W-2026-014"
    assert waived["waiver"]["approver"] == "meera.s"
    assert "principal" not in waived["scope"]  # meera.s waives nothing about herself
    assert [e["kind"] for e in _cited(waived, entries)] == ["key.state"]
    assert "days old" in waived["reason"]


def test_badge_entry_outside_the_window(assessed: Any) -> None:
    _, data, entries = assessed
    (door,) = _failing(data, "physical-entry-windows")
    assert door["scope"]["principal"] == "arjun.p"
    (entry,) = _cited(door, entries)
    local = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).astimezone(
        ZoneInfo("Asia/Kolkata")
    )
    assert local.weekday() == 6
    assert local.hour == 2


def test_forged_identifier_and_malformed_lines(assessed: Any, planted: Any) -> None:
    _, data, _ = assessed
    (forged,) = _failing(data, "forged-source-identity")
    assert forged["scope"] == {"subject": "source:journald"}
    assert f"{planted[1]['planted']['forged_journald_identifier']} records" in forged["reason"]
    incomplete = _failing(data, "collection-completeness")
    quarantined = sum(int(r["reason"].split(" record")[0]) for r in incomplete)
    totals = planted[1]["totals"]
    assert quarantined == totals["malformed"] + totals["forged"]


def test_controls_roll_up(assessed: Any) -> None:
    _, data, _ = assessed
    status = {(c["framework"], c["control"]): c["status"] for c in data["controls"]}
    assert status[("iso27001-2022", "a.8.2")] == "not-satisfied"
    # its only failing result is waived by the Accountable party
    assert status[("pci-dss-4.0.1", "3.7.4")] == "satisfied-with-exceptions"
    assert status[("iso27001-2022", "a.5.33")] == "satisfied"  # the store verifies
    # the planted leak fails segmentation-denied-blocked (critical); 1.2.1 only has the
    # allowed paths, all reachable
    assert status[("pci-dss-4.0.1", "11.4.5")] == "not-satisfied"
    assert status[("pci-dss-4.0.1", "1.3.1")] == "not-satisfied"
    assert status[("pci-dss-4.0.1", "1.2.1")] == "satisfied"


def test_tenant_view_shows_only_that_tenant(planted: Any) -> None:
    ws, _ = planted
    rc, data = _evaluate(ws, "--tenant", "media-b", "--no-record")
    entries = _entries(ws)
    assert rc == 1  # an operator's root shell on mb-render-02 outside any grant
    assert {
        (r["rule"], r["scope"].get("principal")) for r in data["results"] if r["status"] == "fail"
    } >= {("jit-session-covered", "meera.s")}
    assert [r["rule"] for r in data["results"] if r["status"] == "waived"] == ["key-rotation-age"]
    assert data["assessment"]["tenant"] == "media-b"
    for r in data["results"]:
        assert r["scope"].get("tenant") in (None, "media-b")
        for e in _cited(r, entries):
            assert "media-b" in e["scope"]
    assert not _failing(data, "jit-no-self-approval")  # that one is fintech-a's
    assert any(r["rule"] == "store-integrity" for r in data["results"])


def test_the_clean_campus_fails_nothing(tmp_path: Path) -> None:
    ws, manifest = _workspace(tmp_path, clean=True)
    assert manifest["clean"] is True
    assert all(v == 0 for v in manifest["planted"].values())
    rc, data = _evaluate(ws)
    failing = [
        (r["rule"], r["scope"], r["reason"]) for r in data["results"] if r["status"] == "fail"
    ]
    assert failing == []
    assert rc == 0
    assert data["assessment"]["counts"]["pass"] > 50
    # every pair of the matrix probed in the period, positive controls passing, every denied
    # path blocked (UDP included: the firewall rejects), every allowed path reachable
    seg = _segmentation(data)
    assert {(r["rule"], r["status"]) for r in seg} == {(rule, "pass") for rule in SEG_RULES}
    assert Counter(r["rule"] for r in seg) == SEG_RULES
    assert manifest["planted_leaks"] == manifest["missed_probe_runs"] == []
    assert not any(e["kind"] == "probe.missed" for e in _entries(ws).values())
    rc, _ = _evaluate(ws, "--strict", "--no-record")
    assert rc == 1  # no access review (nor backups evidence): not evaluated fails --strict


def test_the_planted_leak_fails_exactly_its_pair(assessed: Any, planted: Any) -> None:
    """seg-ai reaching fintech-a's PostgreSQL on the latest seg-ai scan: the one failing
    segmentation result, naming the leaked port; every other pair passes."""
    _, data, entries = assessed
    manifest = planted[1]
    (leak,) = manifest["planted_leaks"]
    seg = _segmentation(data)
    assert Counter(r["rule"] for r in seg) == SEG_RULES
    (r,) = [r for r in seg if r["status"] != "pass"]
    assert (r["rule"], r["status"]) == ("segmentation-denied-blocked", "fail")
    assert r["scope"] == {"segment": f"{leak['vantage']}->{leak['segment']}", "tenant": "fintech-a"}
    assert f"{leak['protocol']}/{leak['port']} at {leak['address']}" in r["reason"]
    assert r["reason"].startswith("1 denied path from seg-ai to seg-fintech reachable")
    run, result = _cited(r, entries)
    assert (run["kind"], run["time"], run["outcome"]) == ("probe.run", leak["started"], "failure")
    assert run["attrs"]["controls_ok"] is True
    assert run["provenance"]["source_kind"] == "nmap"
    assert result["kind"] == "probe.result"
    assert {k: result["attrs"][k] for k in ("vantage", "segment", "address", "protocol")} == {
        k: leak[k] for k in ("vantage", "segment", "address", "protocol")
    }
    assert (result["attrs"]["port"], result["attrs"]["verdict"]) == (leak["port"], "reachable")
    assert result["target"]["asset"] == leak["asset"]


def test_the_missed_probe_run_is_stored(planted: Any) -> None:
    ws, manifest = planted
    (miss,) = manifest["missed_probe_runs"]
    (stored,) = [e for e in _entries(ws).values() if e["kind"] == "probe.missed"]
    assert stored["attrs"] == {k: miss[k] for k in ("plan", "vantage", "due", "detected")}
    assert (stored["time"], stored["outcome"]) == (miss["due"], "failure")


def test_tenant_output_names_no_other_tenant(planted: Any) -> None:
    ws, _ = planted
    from edgeaudit.collect.inventory import load_inventory

    inv = load_inventory(POLICIES / "inventory.yaml")
    others = [
        *(p.id for p in inv.principals if p.tenant not in (None, "fintech-a")),
        *(a.hostname for a in inv.assets if a.owner not in ("shared", "fintech-a")),
        *(s.id for s in inv.segments if s.owner not in ("shared", "fintech-a")),
        *(k.id for k in inv.keys if k.tenant != "fintech-a"),
        "media-b",
        "ai-c",
    ]
    for extra in ((), ("--json",)):
        rc, out = _run(
            "--workspace",
            str(ws),
            "evaluate",
            "--quarter",
            "2026Q3",
            "--no-record",
            "--tenant",
            "fintech-a",
            *extra,
        )
        assert rc == 1
        assert "fintech-a" in out
        leaked = [name for name in others if name in out]
        assert leaked == []
    # the cross-tenant key use is still reported to fintech-a, with a neutral label
    assert "tenant-" in out


# -- issue 15, checks 1-6: alarms, denied badges, console, brute force, shared accounts, logon
#    strength, partner windows, missed probe runs ----------------------------------------------


def test_access_plants_are_found_with_principal_asset_and_entries(
    assessed: Any, planted: Any
) -> None:
    _, data, entries = assessed
    p = planted[1]["planted_access"]

    # the tamper alarm nobody followed up: the only failing door, citing the alarm
    (alarm,) = _failing(data, "physical-alarm-follow-up")
    assert alarm["scope"] == {"subject": f"door {p['tamper_alarm']['door']}"}
    cited = _cited(alarm, entries)
    assert [e["kind"] for e in cited if e["time"] == p["tamper_alarm"]["time"]] == [
        "physical.tamper"
    ]

    # the partner's card denied four times within minutes
    (denied,) = _failing(data, "physical-denied-repeated")
    assert denied["scope"]["principal"] == p["repeated_denied"]["principal"]
    cited = _cited(denied, entries)
    assert len(cited) == p["repeated_denied"]["denials"]
    assert {e["kind"] for e in cited} == {"physical.denied"}
    assert {e["attrs"]["reason"] for e in cited} == {"Invalid Time Zone"}

    # the console session with no badge entry
    (console,) = _failing(data, "console-after-badge-entry")
    c = p["console_without_badge"]
    assert (console["scope"]["principal"], console["scope"]["asset"]) == (
        c["principal"],
        c["asset"],
    )
    starts = [e for e in _cited(console, entries) if e["kind"] == "session.start"]
    assert [(e["time"], e["attrs"]["service"]) for e in starts] == [(c["start"], "login")]

    # twelve failed logons from one address, then a success from it: by address and account
    b = p["failed_logon_burst"]
    bursts = _failing(data, "logon-failure-bursts")
    assert {r["scope"]["subject"] for r in bursts} == {
        f"source {b['src_ip']}",
        f"account {b['principal']}",
    }
    for r in _failing(data, "logon-success-after-burst"):
        assert r["scope"]["principal"] == b["principal"]
        cited = _cited(r, entries)
        failures = [e for e in cited if e["kind"] == "auth.logon_failed"]
        assert len(failures) == b["failures"]
        assert {e["actor"]["src_ip"] for e in failures} == {b["src_ip"]}
        assert [e["time"] for e in cited if e["kind"] == "auth.logon"][-1] == b["success"]
    assert len(_failing(data, "logon-success-after-burst")) == 2

    # the break-glass logon (unreviewed) is also the shared-account finding
    (shared,) = _failing(data, "shared-account-logons")
    assert (shared["scope"]["asset"], shared["scope"]["subject"]) == (
        "bastion-1",
        "account breakglass",
    )

    # the SSH logon by password
    (weak,) = _failing(data, "logon-strength")
    w = p["password_logon"]
    assert (weak["scope"]["principal"], weak["scope"]["asset"]) == (w["principal"], w["asset"])
    (logon,) = [e for e in _cited(weak, entries) if e["kind"] == "auth.logon"]
    assert (logon["attrs"]["method"], logon["attrs"]["pid"]) == ("password", w["pid"])

    # the partner's session through a standing role, outside any approved maintenance window
    (partner,) = _failing(data, "partner-access-windows")
    o = p["partner_outside_window"]
    assert (partner["scope"]["principal"], partner["scope"]["asset"]) == (
        o["principal"],
        o["asset"],
    )
    sids = {
        e["actor"].get("session") for e in _cited(partner, entries) if e.get("source") == "teleport"
    }
    assert sids == {o["teleport_sid"]}

    # the missed scheduled probe run is a finding of its plan
    (missed,) = _failing(data, "probe-runs-missed")
    (m,) = planted[1]["missed_probe_runs"]
    assert missed["scope"]["subject"] == f"plan {m['plan']}"
    assert [e["kind"] for e in _cited(missed, entries)] == ["probe.missed"]
    assert _failing(data, "probe-rerun-after-change") == []


def test_operations_plants_are_found_with_their_entries(assessed: Any, planted: Any) -> None:
    """Residency, retention, clocks, log review, key lifecycle, leavers, tenant reviews and
    incident reporting (issue 15, checks 7-12): each planted violation, and nothing else."""
    _, data, entries = assessed
    ops = planted[1]["planted_operations"]

    def only(rule: str) -> dict[str, Any]:
        (r,) = _failing(data, rule)
        return r

    # a backup of media-b's data outside its allowed regions
    r, b = only("data-residency"), ops["backup"]
    assert (r["scope"]["tenant"], r["scope"]["subject"]) == (
        b["tenant"],
        f"backup: {b['destination']}",
    )
    (cited,) = _cited(r, entries)
    assert (cited["kind"], cited["region"], cited["time"]) == ("backup.run", b["region"], b["time"])
    assert b["region"] in r["reason"]
    # the backup agent's outage: a collection gap of its source
    r = only("evidence-retention")
    assert r["scope"]["subject"] == "source backup-agent"
    first_missing = ops["backup_outage_days"][0]
    assert [g[0][:10] < first_missing < g[1][:10] for g in r["observed"]["gaps"]] == [True]
    # the clock synchronized to an unconfigured server
    r, c = only("clock-sync"), ops["clock"]
    assert r["scope"]["asset"] == c["asset"]
    (cited,) = _cited(r, entries)
    assert (cited["server"], cited["time"]) == (c["server"], c["time"])
    # three site-local days without a log review
    r = only("log-review-daily")
    assert r["observed"]["missed_days"] == ops["missed_log_review_days"]
    # ravi.k (no key custody) changed media-b's key configuration; the key became exportable
    k = ops["key_config"]
    admin = [x for x in _failing(data, "key-administration") if "principal" in x["scope"]]
    (r,) = admin
    assert (r["scope"]["principal"], r["scope"]["key"]) == (k["principal"], k["key"])
    (cited,) = _cited(r, entries)
    assert (cited["kind"], cited["time"][:19]) == ("key.config", k["time"][:19])
    (exposed,) = [x for x in _failing(data, "key-administration") if "principal" not in x["scope"]]
    assert exposed["scope"] == {"tenant": "media-b", "key": k["key"], "subject": "exposure"}
    kinds = sorted(e["kind"] for e in _cited(exposed, entries))
    assert kinds == ["key.config", "key.state"]
    # the root-token request
    r = only("vault-root-token")
    (cited,) = _cited(r, entries)
    assert cited["actor"]["credential"] == "root-token"
    assert cited["target"]["resource"] == ops["root_token"]["path"]
    # the offboarded operator's decrypt after the end date the inventory's leavers give
    r = only("leaver-activity")
    assert r["scope"]["principal"] == planted[1]["offboarded_principals"][0]
    assert {e["kind"] for e in _cited(r, entries)} == {"key.use"}
    assert all(e["time"] >= "2026-07-15" for e in _cited(r, entries))
    # ai-c's access review by someone who may not review it
    r, v = only("tenant-access-review"), ops["review"]
    assert r["scope"]["tenant"] == v["tenant"]
    assert [e["reviewer"] for e in _cited(r, entries)] == [v["reviewer"]]
    # the incident reported to CERT-In after six hours
    r, i = only("incident-reporting"), ops["incident"]
    assert (r["scope"]["tenant"], r["scope"]["subject"]) == (i["tenant"], f"incident {i['id']}")
    assert "CERT-In" in r["reason"]
    assert {e["kind"] for e in _cited(r, entries)} == {"incident.open", "incident.reported"}
