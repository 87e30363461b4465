"""``edgeaudit evaluate``: exit codes, --strict, --tenant, --json, recording, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeaudit.store import Store
from tests.cli import Cli, config, make_workspace
from tests.policy.helpers import Evidence, edit, full_grant, logon


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


def _append(cli: Cli, *records: Any) -> None:
    conf = config(cli)
    with Store.open(conf.db_url) as store:
        Evidence(store.log(conf.origin)).add(*records)


def _count(cli: Cli, kind: str) -> int:
    import orjson

    conf = config(cli)
    with Store.open(conf.db_url) as store, store.log(conf.origin).reader() as reader:
        return sum(
            1 for _, body, _, _ in reader.iter_entries() if orjson.loads(body)["kind"] == kind
        )


def _eval(cli: Cli, pol: Path, *extra: str):  # type: ignore[no-untyped-def]
    return cli("evaluate", "--quarter", "2026Q3", "--policies", str(pol), *extra)


def _clean(cli: Cli) -> None:
    _append(cli, logon("2026-08-03T09:30:00Z", "lena.f", "fa-web-01", account="lena"))
    cli.ok("checkpoint")


def test_nothing_fails_exit_0_strict_exit_1(ws: Cli, pol: Path) -> None:
    _clean(ws)
    r = _eval(ws, pol)
    assert r.code == 0, r.out + r.err
    assert "framework" in r.out
    assert "iso27001-2022" in r.out
    assert "pci-dss-4.0.1" in r.out
    assert "failing" not in r.out
    assert "recorded as policy.result entries from index" in r.out
    strict = _eval(ws, pol, "--strict", "--no-record")
    assert strict.code == 1  # not-evaluated results (no probes, no key snapshots) fail --strict


def test_a_failure_exits_1_and_is_listed(ws: Cli, pol: Path) -> None:
    _clean(ws)
    _append(
        ws,
        full_grant(
            "g-self",
            "ravi.k",
            "ravi.k",
            "fa-db-01",
            "2026-08-03T08:55:00Z",
            "2026-08-03T09:00:00Z",
            "2026-08-03T10:00:00Z",
        ),
    )
    ws.ok("checkpoint")
    r = _eval(ws, pol)
    assert r.code == 1, r.out + r.err
    assert (
        "findings (2: 2 failing, 0 waived):" in r.out
    )  # ravi.k is also not Accountable for approving access
    assert "[medium] jit-approver-accountable" in r.out
    assert (
        "[high] jit-no-self-approval (tenant=fintech-a, asset=fa-db-01, principal=ravi.k)" in r.out
    )
    assert "g-self" in r.out


def test_evaluation_runs_at_a_signed_checkpoint(ws: Cli, pol: Path) -> None:
    # no checkpoint yet: evaluate signs one of the whole log and judges exactly that snapshot,
    # so the pack can state the population against a checkpoint an auditor can verify
    _append(ws, logon("2026-08-03T09:30:00Z", "lena.f", "fa-web-01", account="lena"))
    r = _eval(ws, pol, "--json", "--no-record")
    assert r.code == 0, r.out + r.err
    doc = r.json()
    head = ws.ok("checkpoint", "show", "--json").json()
    assert doc["assessment"]["checkpoint"] == {
        "tree_size": 1,
        "root_hash": head["root_hash"],
    }
    assert doc["assessment"]["tree_size"] == 1
    (store,) = [x for x in doc["results"] if x["rule"] == "store-integrity"]
    assert store["status"] == "pass"
    # every rule states its procedure and population in words
    assert {x["id"] for x in doc["rules"]} == {x["rule"] for x in doc["results"]}
    assert all(x["procedure"] and x["population"] for x in doc["rules"])


def test_without_the_log_key_the_latest_checkpoint_is_used(ws: Cli, pol: Path) -> None:
    _append(ws, logon("2026-08-03T09:30:00Z", "lena.f", "fa-web-01", account="lena"))
    ws.ok("checkpoint")
    _append(ws, logon("2026-08-03T09:40:00Z", "lena.f", "fa-web-01", account="lena"))
    key = config(ws).root / "keys" / "log.key"
    key.rename(key.with_suffix(".away"))
    r = _eval(ws, pol, "--json", "--no-record")
    assert r.json()["assessment"]["tree_size"] == 1
    assert "evaluating at the latest signed checkpoint, size 1 (the log holds 2)" in r.err


def test_json_output_and_recording(ws: Cli, pol: Path) -> None:
    _clean(ws)
    r = _eval(ws, pol, "--json")
    assert r.code == 0
    data = r.json()
    n = len(data["results"])
    assert data["recorded"]["appended"] == n
    assert data["assessment"]["from"] == "2026-07-01T00:00:00Z"
    assert data["assessment"]["to"] == "2026-10-01T00:00:00Z"
    assert sum(data["assessment"]["counts"].values()) == n
    assert _count(ws, "policy.result") == n
    assert _eval(ws, pol, "--json", "--no-record").code == 0
    assert _count(ws, "policy.result") == n
    ws.ok("checkpoint")
    ws.ok("verify")


def test_tenant_view(ws: Cli, pol: Path) -> None:
    _clean(ws)
    _append(ws, logon("2026-08-05T09:10:00Z", "ravi.k", "mb-render-02", account="ravi"))
    ws.ok("checkpoint")
    r = _eval(ws, pol, "--tenant", "fintech-a", "--json", "--no-record")
    assert r.code == 0, r.out  # media-b's finding is not in fintech-a's view
    tenants = {x["scope"].get("tenant") for x in r.json()["results"]}
    assert tenants <= {"fintech-a", None}
    assert r.json()["assessment"]["tenant"] == "fintech-a"
    assert _eval(ws, pol, "--tenant", "media-b", "--no-record").code == 1


@pytest.mark.parametrize(
    ("file", "old", "new", "needle"),
    [
        (
            "rules.yaml",
            "severity: critical\n    params: {deadline: 72h}",
            "severity: urgent\n    params: {deadline: 72h}",
            "severity 'urgent'",
        ),
        ("raci.yaml", "A: key-custody", "A: key-keepers", "unknown party 'key-keepers'"),
        ("controls.yaml", "streams: [KEY]}", "streams: [KEYS]}", "unknown evidence stream"),
    ],
)
def test_policy_file_error_exits_2(
    ws: Cli, pol: Path, file: str, old: str, new: str, needle: str
) -> None:
    edit(pol / file, old, new, count=(pol / file).read_text().count(old))
    r = _eval(ws, pol)
    assert r.code == 2
    assert f"{pol / file}:" in r.err
    assert needle in r.err
    assert _count(ws, "policy.result") == 0


def test_cedar_error_exits_2(ws: Cli, pol: Path) -> None:
    (pol / "access").mkdir()
    (pol / "access" / "x.cedar").write_text("permit (principal, action, resource) when {;\n")
    r = _eval(ws, pol)
    assert r.code == 2
    assert f"{pol / 'access' / 'x.cedar'}:1: Cedar policy does not parse" in r.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--quarter", "2026Q5"), "--quarter '2026Q5'"),
        (("--quarter", "2026Q3", "--from", "2026-07-01"), "not both"),
        (("--from", "2026-07-01"), "give the period"),
        (("--from", "yesterday", "--to", "2026-08-01"), "--from 'yesterday'"),
        (("--quarter", "2026Q3", "--tenant", "globex"), "unknown tenant 'globex'"),
        (("--quarter", "2026Q3", "--framework", "nist"), "unknown framework 'nist'"),
    ],
)
def test_usage_errors_exit_2(ws: Cli, pol: Path, args: tuple[str, ...], needle: str) -> None:
    r = ws("evaluate", "--policies", str(pol), *args)
    assert r.code == 2
    assert needle in r.err


def test_from_to_period(ws: Cli, pol: Path) -> None:
    _clean(ws)
    r = ws(
        "evaluate",
        "--from",
        "2026-08-03",
        "--to",
        "2026-08-04T00:00:00Z",
        "--policies",
        str(pol),
        "--json",
        "--no-record",
    )
    assert r.code == 0
    assert r.json()["assessment"]["from"] == "2026-08-03T00:00:00Z"
    assert r.json()["assessment"]["to"] == "2026-08-04T00:00:00Z"


def test_the_integrity_rule_verifies_the_store_in_another_process(ws: Cli, pol: Path) -> None:
    # the whole-store verification runs beside the checks (another process): a forged entry
    # must still fail the rule, exactly as `edgeaudit verify` finds it
    from sqlalchemy import text

    from edgeaudit.store.triggers import create_append_only_triggers, drop_append_only_triggers

    _clean(ws)
    _append(ws, logon("2026-08-03T11:00:00Z", "ravi.k", "fa-db-01", account="ravi"))
    ws.ok("checkpoint")
    assert _eval(ws, pol, "--no-record", "--json").code == 1  # ravi.k's session: no grant
    conf = config(ws)
    with Store.open(conf.db_url) as store:
        log_id = store.log(conf.origin).log_id
        with store.engine.begin() as conn:
            drop_append_only_triggers(conn)
            body = conn.execute(
                text("SELECT body FROM entries WHERE log_id = :l AND idx = 0"), {"l": log_id}
            ).scalar_one()
            conn.execute(
                text("UPDATE entries SET body = :b WHERE log_id = :l AND idx = 0"),
                {"b": bytes(body).replace(b"lena", b"leni"), "l": log_id},
            )
            create_append_only_triggers(conn)
    r = _eval(ws, pol, "--no-record", "--json")
    assert r.code == 1
    import json

    doc = json.loads(r.out)
    (integrity,) = [x for x in doc["results"] if x["rule"] == "store-integrity"]
    assert integrity["status"] == "fail"
    assert "store verification found" in integrity["reason"]
