"""An independent review of ``edgeaudit-pack/3`` (issue 18): tampered campus packs that
``edgeaudit verify`` refuses, beyond tests/campus/test_campus_pack.py. Each variant is made by
an outsider (bytes edited) or by an insider who re-signs the manifest with the central manifest
key but holds no log key; a pod's key is used only to sign a kept note of a split view."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import tests.campus.test_campus_pack as campus_pack
from edgeaudit.canonical import canonical_json
from edgeaudit.verify import pack_format as pf
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import REPO, ok_json
from tests.campus.test_campus_pack import PERIOD, Built, _copy, _failed, _manifest, _resign
from tests.pack.helpers import record_assessment

ASSESSMENT_ID = "campus-assessment-review"


@pytest.fixture(scope="module")
def built(campus: Campus, mirrored: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The campus pack of test_campus_pack.py (its stand-in campus assessment), recorded under
    an assessment id of its own so that both modules can run in one session."""
    root = tmp_path_factory.mktemp("campus-pack-review")
    mirrored.sync()
    # pod-a grows and signs again: the mirror then holds an earlier checkpoint of it, so p1
    # has a consistency.jsonl whichever tests ran before
    pod_a = campus.pods["pod-a"]
    pod_a.append(3, "review")
    code, signed = pod_a.checkpoint()
    assert code == 0, signed
    deadline = time.monotonic() + 30
    while True:  # serve publishes the new checkpoint a moment later: sync until it is held
        code, synced = mirrored.sync()
        assert code == 0, synced
        if synced["pod-a"]["held_size"] == signed["tree_size"]:
            break
        assert time.monotonic() < deadline, synced
        time.sleep(0.2)
    ws = mirrored.ws
    central_key = str(ok_json("-w", str(ws), "key", "show")["verifier_key"])
    vkeys = {pod.origin: pod.vkey() for pod in campus.pods.values()}
    vkeys[central_key.split("+", 1)[0]] = central_key
    keys = root / "campus.keys"
    keys.write_text("".join(f"{k}\n" for k in vkeys.values()))
    mkey = root / "manifest.pub"
    ok_json("-w", str(ws), "pack", "key", "--out", str(mkey))

    def record(log: Any, doc: dict[str, Any]) -> None:
        doc["assessment"]["id"] = ASSESSMENT_ID
        record_assessment(log, doc)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(campus_pack, "record_assessment", record)
        doc = campus_pack._campus_assessment(ws, root)
    findings = root / "campus-findings.json"
    findings.write_text(json.dumps(doc))
    out = root / "campus"
    data = ok_json(
        "-w", str(ws), "pack", "build", "--campus", *PERIOD, "--findings", str(findings),
        "--no-pdf", "--out", str(out),
    )  # fmt: skip
    return Built(out, ws, keys, mkey, data, vkeys)


@pytest.fixture(scope="module")
def tenant_pack(built: Built) -> Path:
    """``--campus --tenant media-b``: no result is media-b's to see, so findings.json carries
    none and its assessment header is bound by no record."""
    out = built.pack.parent / "media-b"
    ok_json(
        "-w", str(built.ws), "pack", "build", "--campus", *PERIOD, "--tenant", "media-b",
        "--inventory", str(REPO / "policies" / "inventory.yaml"),
        "--findings", str(built.pack.parent / "campus-findings.json"), "--no-pdf",
        "--out", str(out),
    )  # fmt: skip
    return out


def _edit_json(pack: Path, name: str, change: Any) -> None:
    doc = json.loads((pack / name).read_text())
    change(doc)
    (pack / name).write_bytes(canonical_json(doc))


def _sign_note(body: str, key_file: Path, name: str) -> str:
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]
    sig = base64.b64encode(key_id + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {name} {sig}\n"


def test_the_parts_logs_items_reordered_duplicated_or_central_fail(
    built: Built, tmp_path: Path
) -> None:
    logs = _manifest(built.pack)["logs"]
    pack = _copy(built, tmp_path / "reordered")
    _resign(built, pack, logs=[logs[1], logs[0], *logs[2:]])
    out = _failed(built, pack)
    assert "logs[0]: part 'p2', expected 'p1'" in out
    pack = _copy(built, tmp_path / "twice")
    for name in ("checkpoint", "evidence.jsonl", "proofs.jsonl"):
        shutil.copy(pack / f"p1.{name}", pack / f"p4.{name}")
    _resign(built, pack, logs=[*logs, {**logs[0], "part": "p4"}])
    assert "logs is not sorted by origin, or names an origin twice" in _failed(built, pack)
    pack = _copy(built, tmp_path / "central")
    for name in ("checkpoint", "evidence.jsonl", "proofs.jsonl"):
        shutil.copy(pack / name, pack / f"p4.{name}")
    manifest = _manifest(pack)
    central = {
        "part": "p4", "origin": manifest["origin"], "site": manifest["site"],
        "checkpoint": manifest["checkpoint"], "verifier_key": manifest["verifier_key"],
        "entries": manifest["entries"], "redacted": 0,
    }  # fmt: skip
    _resign(built, pack, logs=[*logs, central])
    assert "names the central log, which is the pack's main part" in _failed(built, pack)
    pack = _copy(built, tmp_path / "member")
    _resign(built, pack, logs=[{**logs[0], "note": "x"}, *logs[1:]])
    assert "logs[0] has members" in _failed(built, pack)


def test_other_names_beside_the_part_files_are_refused(built: Built, tmp_path: Path) -> None:
    for name, source in (
        ("p1.findings.json", pf.FINDINGS_JSON),
        ("p1.manifest.json", pf.MANIFEST),
        ("p1.checkpoint.bak", "p1.checkpoint"),
        ("P1.checkpoint", "p1.checkpoint"),
    ):
        pack = _copy(built, tmp_path / name)
        shutil.copy(pack / source, pack / name)
        out = _failed(built, pack)  # the outsider: a file the manifest does not list
        assert f"{name}: in the pack but not in the manifest" in out
        _resign(built, pack)
        assert f"lists {name!r}, which is not a file of the format" in _failed(built, pack)


def test_a_pods_consistency_proof_in_another_part_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    line = (pack / "p1.consistency.jsonl").read_bytes().splitlines()[0]
    (pack / "p2.consistency.json").write_bytes(line)
    _resign(built, pack)
    out = _failed(built, pack)
    assert "p2.consistency.json: old_checkpoint: no signature from a trusted key" in out


def test_an_older_note_of_the_same_pod_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    old = json.loads((pack / "p1.consistency.jsonl").read_text().splitlines()[0])
    (pack / "p1.checkpoint").write_text(old["old_checkpoint"])
    out = _failed(built, pack)
    assert f"p1.checkpoint: signed tree size {old['old_size']}" in out


def test_a_duplicate_zip_member_of_a_part_is_refused(built: Built, tmp_path: Path) -> None:
    old = json.loads((built.pack / "p1.consistency.jsonl").read_text().splitlines()[0])
    zipped = tmp_path / "dup.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for p in sorted(built.pack.iterdir()):
            zf.write(p, p.name)
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("p1.checkpoint", old["old_checkpoint"])
    out = _failed(built, zipped)
    assert "p1.checkpoint: appears 2 times in the archive (none is read)" in out


def test_a_redacted_line_in_a_site_campus_pack_fails(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    lines = (pack / "p2.evidence.jsonl").read_bytes().splitlines(keepends=True)
    first = json.loads(lines[0])
    view = {"kind": "x", "scope": [], "time": "2026-11-02T00:00:00Z"}
    red = {"index": first["index"], "leaf_hash": first["leaf_hash"], "redacted": view}
    lines[0] = canonical_json(red) + b"\n"
    (pack / "p2.evidence.jsonl").write_bytes(b"".join(lines))
    logs = _manifest(pack)["logs"]
    _resign(built, pack, logs=[logs[0], {**logs[1], "redacted": 1}, *logs[2:]])
    assert "p2.evidence.jsonl:1 (entry 0): a site pack must not hold" in _failed(built, pack)


def test_kept_pod_notes_split_view_missing_proof_and_unknown_log(
    built: Built, campus: Campus, tmp_path: Path
) -> None:
    pod_a = _manifest(built.pack)["logs"][0]
    origin, size = pod_a["origin"], pod_a["checkpoint"]["tree_size"]
    pod = next(p for p in campus.pods.values() if p.origin == origin)
    fork = tmp_path / "fork.note"
    root = base64.b64encode(hashlib.sha256(b"another tree").digest()).decode()
    fork.write_text(_sign_note(f"{origin}\n{size}\n{root}\n", pod.path / "keys/log.key", origin))
    out = _failed(built, built.pack, "--trusted-checkpoint", str(fork))
    assert f"log {origin}: split view" in out
    # a kept earlier note of pod-a, and a pack whose insider dropped p1.consistency.jsonl
    old = json.loads((built.pack / "p1.consistency.jsonl").read_text().splitlines()[0])
    kept = tmp_path / "kept-old.note"
    kept.write_text(old["old_checkpoint"])
    code, text = built.verify(built.pack, "--trusted-checkpoint", str(kept))
    assert code == 0, text
    pack = _copy(built, tmp_path / "noproof")
    (pack / "p1.consistency.jsonl").unlink()
    _resign(built, pack)
    out = _failed(built, pack, "--trusted-checkpoint", str(kept))
    assert "the pack carries no consistency proof from the kept checkpoint" in out
    # a note of a log this pack has no part for, signed by a key nobody trusts: exit 1
    stranger = Ed25519PrivateKey.generate()
    key_file = tmp_path / "stranger.key"
    key_file.write_bytes(
        stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    name = "campus.example.org/pod-unknown"
    note = tmp_path / "unknown.note"
    note.write_text(
        _sign_note(f"{name}\n5\n{base64.b64encode(bytes(32)).decode()}\n", key_file, name)
    )
    out = _failed(built, built.pack, "--trusted-checkpoint", str(note))
    assert f"a kept checkpoint of log {name!r}, which this campus pack has no part for" in out


def test_a_wrong_key_under_a_pods_name_fails(built: Built, tmp_path: Path) -> None:
    origin = _manifest(built.pack)["logs"][1]["origin"]
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4].hex()
    encoded = base64.b64encode(bytes([1]) + raw).decode()
    wrong = f"{origin}+{key_id}+{encoded}"
    keys = tmp_path / "wrong.keys"
    keys.write_text("".join(f"{k}\n" for o, k in built.vkeys.items() if o != origin) + wrong)
    code, out = built.verify(built.pack, "--keys", str(keys), keys=False)
    assert code == 1, out
    assert f"p2.checkpoint: no signature from a trusted key; note signed by: {origin}+" in out
    # the same wrong key beside the right one: signed-note rules, one trusted signature suffices
    keys.write_text(built.keys.read_text() + wrong + "\n")
    code, out = built.verify(built.pack, "--keys", str(keys), keys=False)
    assert code == 0, out


def test_the_csv_log_column_and_oscal_tokens_are_checked(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path / "csv")
    rows = (pack / pf.FINDINGS_CSV).read_text().split("\n")
    first = json.loads((pack / pf.FINDINGS_JSON).read_text())["results"][0]
    token = f"{first['evidence'][0]['origin']}#{first['evidence'][0]['index']}"
    rows[1] = rows[1].replace(f",,{token}", f",{first['evidence'][0]['origin']},{token}", 1)
    (pack / pf.FINDINGS_CSV).write_text("\n".join(rows))
    _resign(built, pack)
    assert f"findings.csv:2: row of {first['id']}: log differ" in _failed(built, pack)
    pack = _copy(built, tmp_path / "oscal")
    other = next(x["origin"] for x in _manifest(pack)["logs"] if x["origin"] not in token)

    def retoken(doc: dict[str, Any]) -> None:
        for ob in doc["assessment-results"]["results"][0]["observations"]:
            for prop in ob.get("props", []):
                if prop["name"] == "evidence-entries":
                    prop["value"] = prop["value"].replace(token.split("#")[0], other)

    _edit_json(pack, pf.OSCAL, retoken)
    _resign(built, pack)
    assert "its observation does not cite entries" in _failed(built, pack)


def test_a_campus_pack_relabelled_v1_is_refused(built: Built, tmp_path: Path) -> None:
    pack = _copy(built, tmp_path)
    _resign(built, pack, format="edgeaudit-pack/1")
    assert "a edgeaudit-pack/1 manifest has logs" in _failed(built, pack)


def test_an_unbound_tenant_header_still_names_each_part_at_a_signed_size(
    built: Built, tenant_pack: Path, tmp_path: Path
) -> None:
    """With no result carried, no record binds ``assessment.logs``; it must still name every
    part's log at a size that log's key signed."""
    code, out = built.verify(tenant_pack)
    assert code == 0, out
    assert json.loads((tenant_pack / pf.FINDINGS_JSON).read_text())["results"] == []
    pack = Path(shutil.copytree(tenant_pack, tmp_path / "smaller"))
    origin = _manifest(pack)["logs"][1]["origin"]

    def smaller(doc: dict[str, Any]) -> None:
        item = next(x for x in doc["assessment"]["logs"] if x["origin"] == origin)
        item["tree_size"] -= 1

    _edit_json(pack, pf.FINDINGS_JSON, smaller)
    _resign(built, pack)
    assert f"judged {origin} at size" in _failed(built, pack)
    pack = Path(shutil.copytree(tenant_pack, tmp_path / "dropped"))
    _edit_json(
        pack,
        pf.FINDINGS_JSON,
        lambda d: d["assessment"].update(
            logs=[x for x in d["assessment"]["logs"] if x["origin"] != origin]
        ),
    )
    _resign(built, pack)
    assert "assessment.logs names" in _failed(built, pack)
    pack = Path(shutil.copytree(tenant_pack, tmp_path / "none"))
    _edit_json(pack, pf.FINDINGS_JSON, lambda d: d["assessment"].pop("logs"))
    _resign(built, pack)
    assert "assessment.logs is missing" in _failed(built, pack)


def test_an_unbound_header_judging_a_proven_pod_empty_unsorted_or_off_size_fails(
    built: Built, tenant_pack: Path, tmp_path: Path
) -> None:
    """The tenant pack's header is bound by no record: its own rules must still hold."""
    origin = _manifest(tenant_pack)["logs"][1]["origin"]
    empty_root = hashlib.sha256(b"").hexdigest()

    def emptied(doc: dict[str, Any]) -> None:
        item = next(x for x in doc["assessment"]["logs"] if x["origin"] == origin)
        item.update(tree_size=0, root_hash=empty_root)

    def unsorted(doc: dict[str, Any]) -> None:
        doc["assessment"]["logs"].reverse()

    def off_size(doc: dict[str, Any]) -> None:
        doc["assessment"]["tree_size"] -= 1

    for name, change, problem in (
        ("emptied", emptied, f"judged {origin} as the empty tree, but the pack has its part"),
        ("unsorted", unsorted, "assessment.logs is not sorted by origin"),
        ("off-size", off_size, "assessment.tree_size is"),
    ):
        pack = Path(shutil.copytree(tenant_pack, tmp_path / name))
        _edit_json(pack, pf.FINDINGS_JSON, change)
        _resign(built, pack)
        assert problem in _failed(built, pack), name


def test_the_oscal_checkpoint_props_are_checked(built: Built, tmp_path: Path) -> None:
    def props(doc: dict[str, Any]) -> list[dict[str, Any]]:
        return list(doc["assessment-results"]["results"][0]["props"])

    def smaller(doc: dict[str, Any]) -> None:
        prop = next(p for p in props(doc) if p["name"] == "log-checkpoint")
        origin, size, root = prop["value"].split(" ")
        prop["value"] = f"{origin} {int(size) - 1} {root}"

    def dropped(doc: dict[str, Any]) -> None:  # one pod's prop gone
        result = doc["assessment-results"]["results"][0]
        result["props"].remove(next(p for p in props(doc) if p["name"] == "log-checkpoint"))

    def tree_size(doc: dict[str, Any]) -> None:
        prop = next(p for p in props(doc) if p["name"] == "tree-size")
        prop["value"] = str(int(prop["value"]) + 1)

    for name, change, problem in (
        ("smaller", smaller, "log-checkpoint props"),
        ("dropped", dropped, "log-checkpoint props"),
        ("tree-size", tree_size, "prop tree-size is"),
    ):
        pack = Path(shutil.copytree(built.pack, tmp_path / name))
        _edit_json(pack, pf.OSCAL, change)
        _resign(built, pack)
        assert problem in _failed(built, pack), name
