"""The demo campus generator: determinism, an exact manifest, and a full collect of every file."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from edgeaudit.demo import generate_campus
from edgeaudit.demo.campus import quarter
from edgeaudit.errors import InputError
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


def test_manifest_lists_every_file_with_exact_record_counts(
    campus: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = campus
    listed = {f["path"] for f in manifest["files"]}
    written = set(_hashes(out)) - {"manifest.json", "inventory.yaml"}
    assert listed == written
    kinds = {f["kind"] for f in manifest["files"]}
    assert kinds == BUILT_IN_KINDS  # the campus covers every built-in format
    for f in manifest["files"]:
        data = (out / f["path"]).read_bytes()
        if f["path"].endswith(".gz"):
            assert len(json.loads(gzip.decompress(data))["Records"]) == f["records"]
        elif f["kind"] in ("vault-keystate", "kms-rotation"):
            assert f["records"] == 1
        else:
            assert data.count(b"\n") == f["records"], f["path"]
    totals = manifest["totals"]
    assert totals["events"] == sum(f["events"] for f in manifest["files"])
    assert abs(totals["events"] - SMALL) < SMALL * 0.25
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
                "--workspace",
                ws,
                "collect",
                f["kind"],
                str(out / f["path"]),
                "--inventory",
                str(out / manifest["inventory"]),
                *f["args"],
                "--json",
            )
            assert rc == 0, f["path"]
            summaries.append(json.loads(text))
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
            rc, text = _run(
                "--workspace",
                str(ws),
                "collect",
                f["kind"],
                str(out / f["path"]),
                "--inventory",
                str(out / "inventory.yaml"),
                *f["args"],
                "--json",
            )
            assert rc == 0
            s = json.loads(text)
            assert (s["appended"], s["quarantined"]) == (0, 0), f["path"]
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

    assert count("key.state", stale) == planted["key_past_rotation_age"]
    assert count("key.state", lambda e: True) == 5
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
    assert all(e["grant"]["id"] in requesters for e in sessions)
