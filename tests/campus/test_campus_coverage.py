"""Campus coverage (ADR 0018, "Coverage of the period") on the session's campus: real pods
served over their links, the PostgreSQL central mirror, wall-clock times.

The period ends a few seconds after the mirror's sync (the pods are synced mid-period); pod-a
then records a leaver's logon inside the period, which the mirror does not hold. Judged after the
period's end, the leaver's result is not a pass (the mirror of pod-a is behind) and pod-a's
coverage fails; a campus pack of that assessment verifies, shows the coverage table, and an
insider turning a result into a pass, or a pod into a covered one, is refused. After a sync past
the period's end the same logon is a failure, and every pass of the first assessment that was
withheld is a pass again.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
from edgeaudit.policy.context import epoch, iso
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import REPO, ok_json, run, run_json

LEAVER = "kiran.m"  # left 2026-07-15 (policies/inventory.yaml)
RULE = "leaver-activity"
COVERAGE = "mirror-coverage"
AHEAD = 12  # seconds from the sync to the period's end


@dataclass(frozen=True)
class Timeline:
    start: str
    end: str
    pod: str  # pod-a's origin
    held: int  # pod-a's size held at the first sync
    logon: int  # index of the leaver's logon in pod-a's log
    verified: str  # when the first sync verified pod-a
    behind: dict[str, Any]  # evaluate --campus after the period's end, before a new sync
    covered: dict[str, Any]  # evaluate --campus after a sync past the period's end
    pack: Path  # a campus pack (with report.pdf) of the behind assessment
    keys: Path
    mkey: Path
    ws: Path  # the central workspace


def _evaluate(mirror: Mirror, policies: Path, start: str, end: str) -> dict[str, Any]:
    code, data = run_json(
        *mirror.args, "evaluate", "--campus", "--from", start, "--to", end,
        "--policies", str(policies), "--no-record",
    )  # fmt: skip
    assert code in (0, 1), data
    return data


@pytest.fixture(scope="module")
def timeline(
    campus: Campus, mirrored: Mirror, tmp_path_factory: pytest.TempPathFactory
) -> Timeline:
    root = tmp_path_factory.mktemp("campus-coverage")
    policies = Path(shutil.copytree(REPO / "policies", root / "policies"))
    end_at = math.ceil(time.time()) + AHEAD
    start, end = iso(end_at - 30 * 86400), iso(end_at)
    # the central log holds evidence of its own (a pack's central part judged as the empty
    # tree is refused: ADR 0018's binding rule, whatever its coverage)
    note = root / "central.jsonl"
    note.write_text(json.dumps({"time": iso(end_at - 2 * 86400), "kind": "note", "n": 1}) + "\n")
    assert run(*mirrored.args, "append", str(note))[0] == 0
    code, synced = mirrored.sync()
    assert code == 0, synced
    pod = campus.pods["pod-a"]
    held = synced["pod-a"]["held_size"]
    verified = MirrorFiles(mirrored.ws, pod.origin).read_state()["verified_at"]
    assert epoch(verified) < end_at, "the sync ran past the period's end: a loaded machine?"
    events = root / "late.jsonl"
    logon = {
        "time": iso(end_at - 86400),
        "kind": "auth.logon",
        "source": "sshd",
        "outcome": "success",
        "actor": {"principal": LEAVER, "user": "kiran"},
        "target": {"asset": "pod-a-h1", "account": "ops"},
        "n": "late",
    }
    events.write_text(json.dumps(logon) + "\n")
    assert run(*pod.ws, "append", str(events))[0] == 0
    assert pod.checkpoint()[0] == 0
    index = pod.size() - 1
    time.sleep(max(0.0, end_at + 1 - time.time()))
    behind = _evaluate(mirrored, policies, start, end)
    keys = root / "campus.keys"
    central_key = str(ok_json(*mirrored.args, "key", "show")["verifier_key"])
    keys.write_text(
        "".join(f"{k}\n" for k in [central_key, *(p.vkey() for p in campus.pods.values())])
    )
    mkey = root / "manifest.pub"
    ok_json(*mirrored.args, "pack", "key", "--out", str(mkey))
    pack = root / "behind-pack"
    ok_json(
        *mirrored.args, "pack", "build", "--campus", "--from", start, "--to", end,
        "--policies", str(policies), "--out", str(pack),
    )  # fmt: skip
    code, synced = mirrored.sync()
    assert code == 0, synced
    assert synced["pod-a"]["held_size"] > index
    covered = _evaluate(mirrored, policies, start, end)
    return Timeline(
        start, end, pod.origin, held, index, verified, behind, covered, pack, keys, mkey,
        mirrored.ws,
    )  # fmt: skip


def _leaver(data: dict[str, Any]) -> dict[str, Any]:
    [r] = [
        r for r in data["results"] if r["rule"] == RULE and r["scope"].get("principal") == LEAVER
    ]
    return dict(r)


def _events(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The event checks' results (their scope names no log), by id."""
    return {r["id"]: r for r in data["results"] if "log" not in r["scope"]}


def _gaps(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["scope"]["log"]: r for r in data["results"] if r["scope"].get("subject") == COVERAGE}


def test_a_pod_synced_mid_period_is_behind_and_nothing_passes(timeline: Timeline) -> None:
    data = timeline.behind
    cov = data["assessment"]["coverage"]
    assert cov["until"] == timeline.end
    pods = {p["origin"]: p for p in cov["pods"]}
    mine = pods[timeline.pod]
    assert mine["state"] == "behind", mine
    assert mine["tree_size"] == timeline.held <= timeline.logon
    assert mine["verified_at"] == timeline.verified
    assert epoch(mine["last_entry"]) < epoch(timeline.end)
    # the leaver's logon is beyond the held size: not found, and not a pass either
    leaver = _leaver(data)
    assert leaver["status"] == "not-evaluated", leaver
    assert f"the mirror of {timeline.pod} holds {timeline.held} entries" in leaver["reason"]
    assert (
        f"last verified at {timeline.verified}, before the period end {timeline.end}"
        in (leaver["reason"])
    )
    assert not [r for r in _events(data).values() if r["status"] == "pass"]
    # pod-a's collection fails for the period (it has ended), naming the gap
    gap = _gaps(data)[timeline.pod]
    assert gap["rule"] == "collection-completeness"
    assert gap["status"] == "fail", gap
    assert gap["reason"] == (
        f"the mirror of {timeline.pod} holds {timeline.held} entries, the last dated "
        f"{mine['last_entry']}; last verified at {timeline.verified}, before the period end "
        f"{timeline.end}"
    )
    assert data["assessment"]["counts"]["pass"] > 0  # per-log results still pass


def test_after_a_sync_past_the_period_end_the_logon_fails(timeline: Timeline) -> None:
    data = timeline.covered
    pods = data["assessment"]["coverage"]["pods"]
    assert {p["state"] for p in pods} == {"covered"}, pods
    assert all(epoch(p["verified_at"]) >= epoch(timeline.end) for p in pods)
    assert _gaps(data) == {}
    leaver = _leaver(data)
    assert leaver["status"] == "fail", leaver
    assert {(e["origin"], e["index"]) for e in leaver["evidence"]} == {
        (timeline.pod, timeline.logon)
    }
    assert leaver["id"] == _leaver(timeline.behind)["id"]


def test_every_pass_withheld_while_behind_is_a_pass_once_covered(timeline: Timeline) -> None:
    """No regression: with every pod covered the event checks pass as they would; while one was
    behind exactly those passes were withheld, and every failure found then stays one."""
    before, after = _events(timeline.behind), _events(timeline.covered)
    assert set(before) == set(after)
    passes = [rid for rid, r in after.items() if r["status"] == "pass"]
    withheld = [
        rid
        for rid, r in before.items()
        if " -- not a pass: the campus does not hold all of the period's evidence (" in r["reason"]
    ]
    assert len(withheld) > 5
    for rid in withheld:
        assert before[rid]["status"] == "not-evaluated", before[rid]
        # the same check without the gap: a pass (or a finding in the late evidence)
        assert after[rid]["status"] in ("pass", "fail"), after[rid]
    for rid in passes:  # a pass now was no pass then (withheld, or nothing to judge yet)
        assert before[rid]["status"] == "not-evaluated", before[rid]
    assert {rid for rid in withheld if after[rid]["status"] == "fail"} == {
        _leaver(timeline.covered)["id"]
    }
    for rid, r in before.items():
        if r["status"] == "fail":
            assert after[rid]["status"] == "fail", (r, after[rid])
    assert not any("not a pass" in r["reason"] for r in after.values())


def _verify(t: Timeline, pack: Path) -> tuple[int, str]:
    return run("verify", str(pack), "--manifest-key", str(t.mkey), "--keys", str(t.keys))


def _resign(ws: Path, pack: Path) -> None:
    """The insider: every file listed again with its hash, the manifest re-signed."""
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    names = sorted(p.name for p in pack.iterdir() if p.name not in pf.SIGNATURE_FILES)
    with manifest_signing_key(cfg.load(ws)) as (private, public):
        payload = manifest_bytes(header, list_files(pack, names), public)
        (pack / pf.MANIFEST).write_bytes(payload)
        (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))


def _edited(t: Timeline, tmp_path: Path, change: Any) -> tuple[int, str]:
    pack = Path(shutil.copytree(t.pack, tmp_path / "pack"))
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    change(doc)
    (pack / pf.FINDINGS_JSON).write_text(json.dumps(doc))
    _resign(t.ws, pack)
    return _verify(t, pack)


def test_the_campus_pack_carries_and_shows_the_coverage(timeline: Timeline) -> None:
    from pypdf import PdfReader

    code, out = _verify(timeline, timeline.pack)
    assert code == 0, out
    doc = json.loads((timeline.pack / pf.FINDINGS_JSON).read_text())
    pods = {p["origin"]: p for p in doc["assessment"]["coverage"]["pods"]}
    assert pods[timeline.pod]["state"] == "behind"
    assert not [r for r in _events(doc).values() if r["status"] == "pass"]
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(timeline.pack / pf.REPORT).pages).split()
    )
    assert "Campus coverage of the period" in text
    assert "pods are not covered: no event check's result is a pass" in text
    section = text.split("Campus coverage of the period", 1)[1].split("Exceptions", 1)[0]
    squeezed = section.replace(" ", "")  # table cells wrap long origins and times
    last = pods[timeline.pod]["last_entry"]
    row = f"{timeline.pod}{timeline.held}{last}{timeline.verified}behind"
    assert row in squeezed, section


def test_an_insider_turning_a_withheld_result_into_a_pass_is_refused(
    timeline: Timeline, tmp_path: Path
) -> None:
    doc = json.loads((timeline.pack / pf.FINDINGS_JSON).read_text())
    i, r = next(
        (i, r)
        for i, r in enumerate(doc["results"])
        if "log" not in r["scope"]
        and r["status"] == "not-evaluated"
        and "not a pass" in r["reason"]
    )

    def passes(d: dict[str, Any]) -> None:
        d["results"][i]["status"] = "pass"

    code, out = _edited(timeline, tmp_path, passes)
    assert code == 1, out
    assert f"result {r['id']} ({r['rule']}) is a pass while the campus does not hold" in out


def test_an_insider_calling_a_behind_pod_covered_is_refused(
    timeline: Timeline, tmp_path: Path
) -> None:
    def covered(d: dict[str, Any]) -> None:
        for p in d["assessment"]["coverage"]["pods"]:
            p["state"] = "covered"

    code, out = _edited(timeline, tmp_path / "a", covered)
    assert code == 1, out
    # the records in the central log say otherwise, and the times do not make it covered
    assert "assessment.coverage is" in out
    assert "the log recorded" in out
    assert "is covered, but verified_at" in out

    def dropped(d: dict[str, Any]) -> None:
        del d["assessment"]["coverage"]

    code, out = _edited(timeline, tmp_path / "b", dropped)
    assert code == 1, out
    assert "assessment.coverage is missing" in out
