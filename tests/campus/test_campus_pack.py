"""Issue 18 / ADR 0018: a campus pack (``edgeaudit-pack/3``) of the central PostgreSQL log and
the three pods' logs its mirror holds, verified per pod with each pod's own key, and refused
when a part is tampered with: by an outsider editing bytes, and by an insider who re-signs the
manifest with the central manifest key (but holds no pod's log key)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.note.verifier import Verifier
from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import REPO, ok_json, run
from tests.pack.helpers import record_assessment

PERIOD = ("--from", "2026-11-01T00:00:00Z", "--to", "2026-11-03T00:00:00Z")


@dataclass(frozen=True)
class Built:
    pack: Path
    ws: Path
    keys: Path  # every log's verifier key, one a line (the auditor's --keys file)
    mkey: Path
    data: dict[str, Any]  # pack build --json
    vkeys: dict[str, str]  # origin -> verifier key

    def verify(self, pack: Path, *extra: str, keys: bool = True) -> tuple[int, str]:
        args = ["verify", str(pack), "--manifest-key", str(self.mkey)]
        if keys:
            args += ["--keys", str(self.keys)]
        return run(*args, *extra)


def _campus_assessment(ws: Path, root: Path) -> dict[str, Any]:
    """A stand-in for ``evaluate --campus`` (its document's shape, ADR 0018), from real
    entries: the central log gets three events and a signed checkpoint; the assessment judges
    it there and each pod at the checkpoint the mirror holds. A leaver active on pod-a and
    pod-b is one failing result citing both; a per-log result per pod; one citing the central
    log. Recorded in the central log as the engine records its results."""
    events = root / "central.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {"time": f"2026-11-02T10:00:0{i}Z", "kind": "auth.logon", "user": f"c{i}", "n": i}
            )
            + "\n"
            for i in range(3)
        )
    )
    assert run("-w", str(ws), "append", str(events))[0] == 0
    signed = ok_json("-w", str(ws), "checkpoint")
    config = cfg.load(ws)
    logs = [{"origin": config.origin, "tree_size": signed["tree_size"], "root_hash": ""}]
    cited: dict[str, tuple[int, str]] = {}
    with Store.open(config.db_url) as store:
        central = store.log(config.origin)
        with central.reader() as reader:
            logs[0]["root_hash"] = reader.root(signed["tree_size"]).hex()
            index, _body, leaf, _ = next(reader.iter_entries(signed["tree_size"] - 1))
            cited[config.origin] = (index, bytes(leaf).hex())
        for origin in sorted(store.origins()):
            if origin == config.origin:
                continue
            held = store.log(origin).latest_checkpoint()
            assert held is not None
            logs.append(
                {"origin": origin, "tree_size": held.tree_size, "root_hash": held.root_hash.hex()}
            )
            with store.log(origin).reader() as reader:
                index, _body, leaf, _ = next(reader.iter_entries(3))
                cited[origin] = (index, bytes(leaf).hex())
    pods = [x["origin"] for x in logs if x["origin"] != config.origin]
    # a [[mirror]] never synced is judged as the empty tree (its size-0 item needs no part)
    empty = hashlib.sha256(b"").hexdigest()
    logs.append({"origin": "campus.example.org/pod-z", "tree_size": 0, "root_hash": empty})
    logs.sort(key=lambda x: x["origin"])

    def ref(origin: str) -> dict[str, Any]:
        return {"index": cited[origin][0], "leaf_hash": cited[origin][1], "origin": origin}

    results = [
        {
            "id": "R-" + "1" * 16,
            "rule": "leavers.no_activity",
            "title": "leaver active",
            "status": "fail",
            "severity": "high",
            "controls": ["iso27001-2022:a.5.18"],
            "scope": {"principal": "op3"},
            "reason": "op3 left and logged on to two pods",
            "evidence": [ref(pods[0]), ref(pods[1])],
        },
        {
            "id": "R-" + "2" * 16,
            "rule": "clocks.drift",
            "title": "central clock",
            "status": "not-evaluated",  # pod-z never synced: no event check passes
            "severity": "low",
            "controls": [],
            "scope": {},
            "reason": "ok -- not a pass: the campus does not hold pod-z's evidence",
            "evidence": [ref(config.origin)],
        },
        *(
            {
                "id": f"R-{k:016d}",
                "rule": "integrity.store",
                "title": "store integrity",
                "status": "pass",
                "severity": "critical",
                "controls": [],
                "scope": {"log": origin},
                "reason": "verified",
                "evidence": [],
            }
            for k, origin in enumerate(pods, 3)
        ),
    ]
    coverage = [  # the synced pods verified at the period's end, pod-z never synced
        {
            "origin": x["origin"],
            "state": "covered" if x["tree_size"] else "never-synced",
            "tree_size": x["tree_size"],
            "last_entry": None,
            "verified_at": PERIOD[3] if x["tree_size"] else None,
        }
        for x in logs
        if x["origin"] != config.origin
    ]
    doc = {
        "assessment": {
            "id": "campus-assessment-1",
            "from": PERIOD[1],
            "to": PERIOD[3],
            "tenant": None,
            "frameworks": ["iso27001-2022"],
            "tree_size": signed["tree_size"],
            "evaluated_at": "2026-11-03T00:00:00Z",
            "logs": logs,
            "coverage": {"until": PERIOD[3], "pods": coverage},
        },
        "results": results,
        "controls": [],
    }
    with Store.open(config.db_url) as store:
        record_assessment(store.log(config.origin), doc)
    return doc


@pytest.fixture(scope="module")
def built(campus: Campus, mirrored: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("campus-pack")
    mirrored.sync()  # whatever earlier tests left, the mirror holds some checkpoint of each pod
    ws = mirrored.ws
    central_key = str(ok_json("-w", str(ws), "key", "show")["verifier_key"])
    vkeys = {pod.origin: pod.vkey() for pod in campus.pods.values()}
    vkeys[central_key.split("+", 1)[0]] = central_key
    keys = root / "campus.keys"
    keys.write_text("# the campus's log keys\n" + "".join(f"{k}\n" for k in vkeys.values()))
    mkey = root / "manifest.pub"
    ok_json("-w", str(ws), "pack", "key", "--out", str(mkey))
    doc = _campus_assessment(ws, root)
    findings = root / "campus-findings.json"
    findings.write_text(json.dumps(doc))
    out = root / "campus"
    data = ok_json(
        "-w", str(ws), "pack", "build", "--campus", *PERIOD, "--findings", str(findings),
        "--no-pdf", "--out", str(out),
    )  # fmt: skip
    return Built(out, ws, keys, mkey, data, vkeys)


def _copy(built: Built, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built.pack, tmp_path / "pack"))


def _manifest(pack: Path) -> dict[str, Any]:
    return dict(json.loads((pack / pf.MANIFEST).read_text()))


def _resign(built: Built, pack: Path, **header_changes: Any) -> None:
    """The insider: every file listed again with its hash, the manifest re-signed with the
    central manifest key."""
    manifest = _manifest(pack)
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    header.update(header_changes)
    names = sorted(p.name for p in pack.iterdir() if p.name not in pf.SIGNATURE_FILES)
    with manifest_signing_key(cfg.load(built.ws)) as (private, public):
        payload = manifest_bytes(header, list_files(pack, names), public)
        (pack / pf.MANIFEST).write_bytes(payload)
        (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))


def _failed(built: Built, pack: Path, *extra: str, keys: bool = True) -> str:
    code, out = built.verify(pack, *extra, keys=keys)
    assert code == 1, out
    assert out.startswith("FAILED"), out
    return out


def test_a_campus_pack_verifies_per_pod_with_each_pods_key(campus: Campus, built: Built) -> None:
    manifest = _manifest(built.pack)
    assert manifest["format"] == pf.FORMAT_V3
    origins = sorted(pod.origin for pod in campus.pods.values())
    assert [x["origin"] for x in manifest["logs"]] == origins
    assert [x["part"] for x in manifest["logs"]] == ["p1", "p2", "p3"]
    for k, item in enumerate(manifest["logs"], 1):
        note = (built.pack / f"p{k}.checkpoint").read_text()
        assert note.splitlines()[:2] == [item["origin"], str(item["checkpoint"]["tree_size"])]
        assert item["verifier_key"] == built.vkeys[item["origin"]]
        evidence = (built.pack / f"p{k}.evidence.jsonl").read_text().splitlines()
        assert len(evidence) == item["entries"] > 0  # the pods' events of 2 November
    code, out = built.verify(built.pack)
    assert code == 0, out
    assert out.startswith("OK: campus site pack"), out
    for k, origin in enumerate(origins, 1):
        assert f"p{k} {origin}: checkpoint of size" in out
    # each pod's key goes to its part: --key repeated works as well as --keys
    args = [a for k in built.vkeys.values() for a in ("--key", k)]
    code, out = built.verify(built.pack, *args, keys=False)
    assert code == 0, out


def test_a_missing_pod_key_fails_naming_the_pod(built: Built, tmp_path: Path) -> None:
    missing = sorted(o for o in built.vkeys if o.endswith("pod-b"))[0]
    args = [a for o, k in built.vkeys.items() if o != missing for a in ("--key", k)]
    out = _failed(built, built.pack, *args, keys=False)
    assert f"no trusted key names log {missing!r}" in out
    assert "--key VKEY or --keys FILE" in out
    # the central key offered as the pod's (a key of another name) changes nothing
    central = next(k for o, k in built.vkeys.items() if o.endswith("/central"))
    out = _failed(built, built.pack, *args, "--key", central, keys=False)
    assert f"no trusted key names log {missing!r}" in out


def test_an_entry_moved_to_another_part_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    p1 = (pack / "p1.evidence.jsonl").read_bytes().splitlines(keepends=True)
    p2 = (pack / "p2.evidence.jsonl").read_bytes().splitlines(keepends=True)
    moved = p1[0]
    index = json.loads(moved)["index"]
    # it takes the place of p2's entry of the same index, so indexes still ascend
    at = next(i for i, line in enumerate(p2) if json.loads(line)["index"] == index)
    p2[at] = moved
    (pack / "p2.evidence.jsonl").write_bytes(b"".join(p2))
    out = _failed(built, pack)  # outsider: the hash differs from the manifest's
    assert "p2.evidence.jsonl: SHA-256" in out
    _resign(built, pack)  # insider: the multi-proof against the pod's root still fails
    out = _failed(built, pack)
    assert "p2.proofs.jsonl" in out
    assert "p1." not in out


def test_a_pods_note_swapped_for_another_pods_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    manifest = _manifest(pack)
    p1, p2 = manifest["logs"][0], manifest["logs"][1]
    for name in ("checkpoint", "evidence.jsonl", "proofs.jsonl", "consistency.jsonl"):
        a, b = pack / f"p1.{name}", pack / f"p2.{name}"
        if a.exists() and b.exists():
            data = a.read_bytes()
            a.write_bytes(b.read_bytes())
            b.write_bytes(data)
    out = _failed(built, pack)
    assert "p1.checkpoint" in out
    # the insider also swaps the logs items' sizes and roots: the origins still differ
    swapped = [
        {
            **p1,
            "checkpoint": p2["checkpoint"],
            "entries": p2["entries"],
            "redacted": p2["redacted"],
        },
        {
            **p2,
            "checkpoint": p1["checkpoint"],
            "entries": p1["entries"],
            "redacted": p1["redacted"],
        },
        *manifest["logs"][2:],
    ]
    _resign(built, pack, logs=swapped)
    out = _failed(built, pack)
    # each note is signed by the other pod's key, not by the key its part's origin names
    assert "p1.checkpoint: " in out
    assert "p2.checkpoint: " in out
    assert "trusted keys: " + Verifier.parse(built.vkeys[p1["origin"]]).label in out
    # and swapping the origins too breaks the sorted order and each note's key
    _resign(built, pack, logs=[{**p2, "part": "p1"}, {**p1, "part": "p2"}, *manifest["logs"][2:]])
    out = _failed(built, pack)
    assert "logs is not sorted by origin" in out


def test_a_kept_note_of_a_log_the_pack_lacks_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    manifest = _manifest(pack)
    kept = tmp_path / "kept-p3.note"
    shutil.copy(pack / "p3.checkpoint", kept)
    code, out = built.verify(pack, "--trusted-checkpoint", str(kept))
    assert code == 0, out
    assert "p3 " in out
    assert "extends your kept checkpoint of size" in out
    # the insider drops the part with its logs item: the kept note names a lost log
    for name in list(pack.iterdir()):
        if name.name.startswith("p3."):
            name.unlink()
    _resign(built, pack, logs=manifest["logs"][:2])
    origin = manifest["logs"][2]["origin"]
    out = _failed(built, pack)  # the assessment judged the log the pack dropped
    assert f"judged log {origin!r}, which the pack has no part for" in out
    out = _failed(built, pack, "--trusted-checkpoint", str(kept))  # and the kept note says so
    assert f"a kept checkpoint of log {origin!r}, which this campus pack has no part for" in out


def test_part_names_out_of_range_are_refused(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    shutil.copy(pack / "p3.checkpoint", pack / "p4.checkpoint")
    shutil.copy(pack / "p1.checkpoint", pack / "p01.checkpoint")
    _resign(built, pack)
    out = _failed(built, pack)
    assert "lists 'p4.checkpoint', which is not a file of the format" in out
    assert "lists 'p01.checkpoint', which is not a file of the format" in out


def test_a_campus_pack_relabelled_v2_is_refused(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    _resign(built, pack, format=pf.FORMAT)
    out = _failed(built, pack)
    assert "a edgeaudit-pack/2 manifest has logs" in out
    assert "p1.checkpoint" in out  # and its part files are not files of /2


def test_keys_file_errors_name_the_line(built: Built, tmp_path: Path) -> None:
    bad = tmp_path / "bad.keys"
    bad.write_text(built.keys.read_text() + "not-a-key\n")
    code, out = built.verify(built.pack, "--keys", str(bad), keys=False)
    assert code == 2, out
    assert f"{bad}:{len(bad.read_text().splitlines())}: not a verifier key" in out


def test_the_canonical_manifest_lists_part_files(built: Built) -> None:
    raw = (built.pack / pf.MANIFEST).read_bytes()
    manifest = json.loads(raw)
    assert canonical_json(manifest) == raw
    listed = {f["path"] for f in manifest["files"]}
    for k in (1, 2, 3):
        assert {f"p{k}.checkpoint", f"p{k}.evidence.jsonl", f"p{k}.proofs.jsonl"} <= listed


def _edit_findings(pack: Path, change: Any) -> dict[str, Any]:
    doc = dict(json.loads((pack / pf.FINDINGS_JSON).read_text()))
    change(doc)
    (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
    return doc


def test_the_findings_are_bound_per_origin(built: Built) -> None:
    code, out = built.verify(built.pack, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["bound"] == report["findings"] == 5
    doc = json.loads((built.pack / pf.FINDINGS_JSON).read_text())
    central = _manifest(built.pack)["origin"]
    assert {r["record"]["origin"] for r in doc["results"]} == {central}
    leaver = doc["results"][0]
    assert len({e["origin"] for e in leaver["evidence"]}) == 2  # one result, two pods
    rows = (built.pack / pf.FINDINGS_CSV).read_text().splitlines()
    assert tuple(rows[0].split(",")) == pf.FINDINGS_CSV_COLUMNS_V3
    tokens = [f"{e['origin']}#{e['index']}" for e in leaver["evidence"]]
    assert " ".join(tokens) in rows[1]


def test_a_citations_origin_changed_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    logs = _manifest(pack)["logs"]

    def other_pod(doc: dict[str, Any]) -> None:
        ev = doc["results"][0]["evidence"][0]
        ev["origin"] = next(x["origin"] for x in logs if x["origin"] != ev["origin"])

    doc = _edit_findings(pack, other_pod)
    rid = doc["results"][0]["id"]
    _resign(built, pack)
    out = _failed(built, pack)
    assert f"result {rid} (record, log entry" in out
    assert ": evidence is" in out
    # an origin that is no log of the pack
    pack = _copy(built, tmp_path / "2")
    _edit_findings(pack, lambda d: d["results"][0]["evidence"][0].update(origin="elsewhere/x"))
    _resign(built, pack)
    out = _failed(built, pack)
    assert "evidence[0] cites log 'elsewhere/x'" in out


def test_the_judged_logs_edited_alike_fail(built: Built, tmp_path: Path) -> None:
    """The insider edits findings.json's ``logs`` (a pod judged at another size): the header
    no longer equals the record's, and the size is no checkpoint the pod's key signed."""
    pack = _copy(built, tmp_path)

    def smaller(doc: dict[str, Any]) -> None:
        doc["assessment"]["logs"][1]["tree_size"] -= 1

    _edit_findings(pack, smaller)
    _resign(built, pack)
    out = _failed(built, pack)
    assert "assessment.logs is" in out
    assert "the log recorded" in out
    assert "neither the checkpoint of p1.checkpoint" in out


def test_the_format_doc_describes_campus_packs(built: Built) -> None:
    """docs/pack-format.md against what ``pack build --campus`` writes (as tests/pack/
    test_format_doc.py holds it for /2): part files, the ``logs`` members, the CSV header,
    the manifest members and the OSCAL prop."""
    import re

    from tests.pack.test_format_doc import DOC, section, table_names

    doc = DOC.read_text(encoding="utf-8")
    campus = section(doc, "## Campus packs")
    names = table_names(campus)
    assert {n for n in names if n.startswith("p<k>.")} == {f"p<k>.{n}" for n in pf.PART_FILES}
    assert set(names) - {f"p<k>.{n}" for n in pf.PART_FILES} == pf.PART_KEYS
    manifest = _manifest(built.pack)
    documented = set(table_names(section(doc, "## `manifest.jws` and `manifest.json`")))
    assert set(manifest) == documented | {"logs"}
    for item in manifest["logs"]:
        assert set(item) == pf.PART_KEYS
    for f in manifest["files"]:
        m = re.fullmatch(r"p([1-9][0-9]*)\.(.+)", f["path"])
        assert m is None or m[2] in pf.PART_FILES, f
    header = re.search(r"has the header\s+`([^`]+)`", campus)
    assert header is not None
    assert tuple(header.group(1).split(",")) == pf.FINDINGS_CSV_COLUMNS_V3
    assert (built.pack / pf.FINDINGS_CSV).read_text().splitlines()[0] == header.group(1)
    oscal = json.loads((built.pack / pf.OSCAL).read_text())["assessment-results"]
    props = {p["name"] for p in oscal["results"][0]["props"]}
    assert props == {"tree-size", "log-checkpoint"}
    assert "`log-checkpoint`" in campus


def test_verifying_a_campus_pack_imports_no_store_signing_or_pdf_code(built: Built) -> None:
    """As tests/pack/test_verify_imports.py holds it for /2: in a fresh interpreter where the
    database layer, the PDF renderer and the signing libraries cannot be imported."""
    import os
    import subprocess
    import sys

    from tests.pack.test_verify_imports import BLOCKED, FORBIDDEN

    script = f"""
import contextlib, io, json, sys
for name in {BLOCKED!r}:
    sys.modules[name] = None
from edgeaudit.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["verify", {str(built.pack)!r}, "--keys", {str(built.keys)!r},
                 "--manifest-key", {str(built.mkey)!r}])
forbidden = {FORBIDDEN!r}
loaded = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in forbidden))
campus = "edgeaudit.verify.pack_campus" in sys.modules
print(json.dumps({{"code": code, "loaded": loaded, "campus": campus}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": [], "campus": True}


def test_a_tenant_campus_pack_holds_only_the_tenants_entries(built: Built, tmp_path: Path) -> None:
    """``--campus --tenant``: every part holds the tenant's entries (all three pods are named,
    with their sizes); another tenant's entry put in full into a pod part is refused."""
    inventory = Path(__file__).resolve().parents[2] / "policies" / "inventory.yaml"
    findings = built.pack.parent / "campus-findings.json"
    out = tmp_path / "media-b"
    ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--tenant", "media-b",
        "--inventory", str(inventory), "--findings", str(findings), "--no-pdf", "--out", str(out),
    )  # fmt: skip
    manifest = _manifest(out)
    assert manifest["tenant"] == "media-b"
    assert [x["origin"] for x in manifest["logs"]] == [
        x["origin"] for x in _manifest(built.pack)["logs"]
    ]
    for k in (1, 2, 3):
        for line in (out / f"p{k}.evidence.jsonl").read_text().splitlines():
            rec = json.loads(line)
            assert "entry" in rec
            assert '"tenant":"media-b"' in base64.b64decode(rec["entry"]).decode()
    code, text = built.verify(out)
    assert code == 0, text
    assert text.startswith("OK: campus tenant media-b pack"), text
    # the insider adds another tenant's entry, in full, to pod part 1
    site = (built.pack / "p1.evidence.jsonl").read_text().splitlines(keepends=True)
    other = next(
        line
        for line in site
        if '"tenant":"fintech-a"' in base64.b64decode(json.loads(line)["entry"]).decode()
    )
    mine = (out / "p1.evidence.jsonl").read_text().splitlines(keepends=True)
    merged = sorted([*mine, other], key=lambda line: json.loads(line)["index"])
    (out / "p1.evidence.jsonl").write_text("".join(merged))
    entries = [{**x, "entries": x["entries"] + (x["part"] == "p1")} for x in manifest["logs"]]
    _resign(built, out, logs=entries)
    text = _failed(built, out)
    index = json.loads(other)["index"]
    assert f"p1.evidence.jsonl:{merged.index(other) + 1} (entry {index})" in text
    assert "fintech-a" in text


def test_a_campus_pack_of_evaluate_campus_verifies(
    built: Built, campus: Campus, tmp_path: Path
) -> None:
    """Without --findings the pack carries the campus assessment of the period (evaluated by
    the policy directory and recorded in the central log): every citation is proven in the
    part of its origin, every record in the central part."""
    policies = Path(shutil.copytree(REPO / "policies", tmp_path / "policies"))
    out = tmp_path / "assessed"
    data = ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--policies", str(policies),
        "--no-pdf", "--out", str(out),
    )  # fmt: skip
    assert data["findings"] > 0
    doc = json.loads((out / pf.FINDINGS_JSON).read_text())
    central = _manifest(out)["origin"]
    judged = {x["origin"] for x in doc["assessment"]["logs"]}
    assert judged == {central, *(pod.origin for pod in campus.pods.values())}
    cited = {e["origin"] for r in doc["results"] for e in r["evidence"]}
    assert cited <= judged  # (the pods' logons here are cited by no rule; the stand-in does)
    per_log = [r for r in doc["results"] if r["rule"] == "store-integrity"]
    assert {r["scope"]["log"] for r in per_log} == judged
    code, text = built.verify(out, "--json")
    assert code == 0, text
    report = json.loads(text)
    assert report["bound"] == report["findings"] == data["findings"]


def test_benign_repackaging_and_an_unknown_cosignature_still_verify(
    built: Built, tmp_path: Path
) -> None:
    import zipfile

    pack = _copy(built, tmp_path)
    # an unknown witness's cosignature line on a pod's note: ignored (signed-note rules)
    sig = base64.b64encode(b"\x01\x02\x03\x04" + bytes(72)).decode()
    with (pack / "p2.checkpoint").open("a") as f:
        f.write(f"\u2014 w9.witness.example.net {sig}\n")
    code, out = built.verify(pack)
    assert code == 0, out
    zipped = tmp_path / "campus.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(pack.iterdir(), reverse=True):  # another order, stored, not deflated
            zf.write(p, p.name)
    code, out = built.verify(zipped)
    assert code == 0, out


def test_the_witness_policy_applies_to_every_note(
    built: Built, campus: Campus, tmp_path: Path
) -> None:
    """The pods' notes the mirror holds carry the witnesses' cosignatures; the central log has
    no witness: a policy of both witnesses fails on its note alone."""
    code, out = built.verify(built.pack, "--witness-policy", str(campus.policy("2")))
    assert code == 1, out
    failing = {line.split(":", 1)[0].strip() for line in out.splitlines()[1:]}
    assert "checkpoint" in failing
    notes = {f"p{k}.checkpoint": (built.pack / f"p{k}.checkpoint").read_text() for k in (1, 2, 3)}
    for name, note in notes.items():
        cosigned = all(f"\u2014 {w.label}." in note for w in campus.witnesses)
        assert (name in failing) == (not cosigned), (name, out)


def test_a_record_said_to_be_in_a_pod_part_fails(built: Built, tmp_path: Path) -> None:
    """The assessment is recorded in the central log only: a record naming a pod's log (where
    the insider might place a pod's own policy.result of the same id) is refused."""
    pack = _copy(built, tmp_path)
    pod = _manifest(pack)["logs"][0]["origin"]
    doc = _edit_findings(pack, lambda d: d["results"][1]["record"].update(origin=pod))
    _resign(built, pack)
    out = _failed(built, pack)
    rid = doc["results"][1]["id"]
    assert f"results[1] ({rid}) record names log {pod!r}" in out


def test_a_citation_at_the_judged_size_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    judged = {x["origin"]: x["checkpoint"]["tree_size"] for x in _manifest(pack)["logs"]}
    doc = json.loads((pack / pf.FINDINGS_JSON).read_text())
    ev = doc["results"][0]["evidence"][0]
    size = next(x["tree_size"] for x in doc["assessment"]["logs"] if x["origin"] == ev["origin"])
    assert size <= judged[ev["origin"]]
    _edit_findings(pack, lambda d: d["results"][0]["evidence"][0].update(index=size))
    _resign(built, pack)
    out = _failed(built, pack)
    assert f"cites {ev['origin']}#{size}, at or beyond the size {size}" in out


def test_a_campus_pack_on_a_note_signed_elsewhere(built: Built, tmp_path: Path) -> None:
    """Key separation (ADR 0014): --checkpoint NOTE, signed where the central log key is, is
    the central part's note; nothing is signed by the builder."""
    note = tmp_path / "central.note"
    ok_json("-w", str(built.ws), "checkpoint", "sign", "--out", str(note))
    findings = built.pack.parent / "campus-findings.json"
    out = tmp_path / "separated"
    ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--findings", str(findings),
        "--checkpoint", str(note), "--no-pdf", "--out", str(out),
    )  # fmt: skip
    assert (out / pf.CHECKPOINT).read_bytes() == note.read_bytes()
    code, text = built.verify(out)
    assert code == 0, text


def test_the_report_names_every_pods_log(built: Built, tmp_path: Path) -> None:
    """report.pdf of a campus pack: every pod part on the cover (origin, entries, size, root)
    and, on the last page, how to give each log's key."""
    from pypdf import PdfReader

    findings = built.pack.parent / "campus-findings.json"
    out = tmp_path / "with-pdf"
    ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--findings", str(findings),
        "--out", str(out),
    )  # fmt: skip
    pages = [p.extract_text() for p in PdfReader(out / pf.REPORT).pages]
    cover = " ".join(pages[0].split())
    assert cover.startswith("Campus audit pack")
    for item in _manifest(out)["logs"]:
        cp = item["checkpoint"]
        assert (
            f"pod log {item['part']} {item['origin']}: {item['entries']} entries of a log of "
            f"{cp['tree_size']}, root {cp['root_hash']}"
        ) in cover
    assert "--keys FILE" in " ".join(pages[-1].split()).replace("-- keys", "--keys")
    # the leaver's citations name their pods (site E-index), not a bare index of no log
    text = " ".join(" ".join(pages).split())
    doc = json.loads((out / pf.FINDINGS_JSON).read_text())
    for e in doc["results"][0]["evidence"]:
        assert f"{e['origin'].rsplit('/', 1)[1]} E-{e['index']}" in text
    code, text = built.verify(out)
    assert code == 0, text


def test_a_pod_grown_since_the_assessment_is_proven_from_the_judged_size(
    built: Built, campus: Campus, mirrored: Mirror, tmp_path: Path
) -> None:
    """The pod appends and the mirror syncs after the assessment: the part is the newer held
    checkpoint, and the judged size is one its consistency proofs prove the log grew from."""
    from tests.campus.test_mirror import _published

    pod = campus.pods["pod-a"]
    findings = built.pack.parent / "campus-findings.json"
    judged = next(
        x["tree_size"]
        for x in json.loads(findings.read_text())["assessment"]["logs"]
        if x["origin"] == pod.origin
    )
    size = pod.append(5, "after-the-assessment")
    code, data = pod.checkpoint()
    assert code == 0, data
    _published(mirrored, pod, size)
    mirrored.sync()
    out = tmp_path / "grown"
    ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--findings", str(findings),
        "--no-pdf", "--out", str(out),
    )  # fmt: skip
    item = next(x for x in _manifest(out)["logs"] if x["origin"] == pod.origin)
    assert item["checkpoint"]["tree_size"] == size > judged
    code, text = built.verify(out, "--json")
    assert code == 0, text
    part = next(p for p in json.loads(text)["parts"] if p["origin"] == pod.origin)
    assert part["proven_from"] >= 1
