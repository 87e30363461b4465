"""``mirror list`` as an operator reads it, after real passes of real pods: the key a rotated pod
verifies with now and where it took effect, a fork that stops a pod and its proof, a pod down
(the last error shown, what is held unchanged), the cosignature lines kept for the held
checkpoint, and the ``--json`` document's keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import Ed25519Cosigner, generate
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import append_mirror, make_source
from tests.mirror.conftest import Pod, central, mirrored
from tests.mirror.hostile import Answer, HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

TOP = {
    "origin",
    "url",
    "key",
    "held_size",
    "held_at",
    "stored_size",
    "last_verified",
    "last_attempt",
    "stopped",
    "fork_proofs",
    "witnessed",
    "fetched_size",
    "fetched_at",
    "last_status",
    "fork",
}
KEY = {"current", "mirror_key", "transitions", "problem"}
STEP = {"tree_size", "previous_key", "next_key"}
VERIFIED = {"at", "tree_size"}
ATTEMPT = {"at", "status", "tree_size", "error", "failing_since"}
WITNESSED = {"tree_size", "count", "names", "problem"}


def listed(ws: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "list")
    doc = json.loads(out)
    assert set(doc) == {"mirrors"}
    return code, {m["origin"]: m for m in doc["mirrors"]}


def text(ws: Path) -> tuple[int, str]:
    code, out, err = run("--workspace", str(ws), "mirror", "list")
    assert err == ""
    return code, out


def sync(ws: Path, *origin: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "sync", *origin, "--rate", "0")
    return code, json.loads(out.strip().splitlines()[-1])["mirrors"][0]


@pytest.fixture
def pod(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pod]:
    """A real pod of 300 entries served by ``edgeaudit serve``, its token in $LV_TOKEN."""
    made = Pod(tmp_path, "pod-lv").init()
    made.append(300)
    made.start()
    try:
        monkeypatch.setenv("LV_TOKEN", made.token())
        yield made
    finally:
        made.stop()


def add(ws: Path, url: str, vkey: str) -> None:
    argv = ["mirror", "add", url, "--key", vkey, "--token-env", "LV_TOKEN"]
    code, _, err = run("--workspace", str(ws), *argv)
    assert code == 0, err


def test_a_rotated_pod_lists_its_new_key_and_where_it_took_effect(pod: Pod, tmp_path: Path) -> None:
    first = pod.config.verifier_key
    origin = pod.config.origin
    ws = central(tmp_path)
    add(ws, pod.url, first)
    assert sync(ws)[1]["status"] == "synced"
    code, got = listed(ws)
    assert code == 0
    assert got[origin]["key"] == {
        "current": first,
        "mirror_key": first,
        "transitions": [],
        "problem": None,
    }

    code, out, err = run("--workspace", str(pod.ws), "--json", "key", "rotate")
    assert code == 0, err
    at = int(json.loads(out)["transition_size"])
    size = pod.append(257)
    new = pod.config.verifier_key
    assert new != first
    code, r = sync(ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", size), r

    code, got = listed(ws)
    assert code == 0
    key = got[origin]["key"]
    assert key["current"] == new
    assert key["mirror_key"] == first
    assert key["transitions"] == [{"tree_size": at, "previous_key": first, "next_key": new}]
    assert got[origin]["held_size"] == size
    assert got[origin]["last_verified"]["tree_size"] == size
    code, out = text(ws)
    assert code == 0
    assert f"  key {new}\n" in out
    first_id, new_id = first.split("+")[1], new.split("+")[1]
    assert f"rotated: [[mirror]] key {first_id}, then {new_id} from size {at:,}" in out, out

    # the new key revoked in the [[mirror]] table since: the held checkpoint verifies with no
    # key trusted now, and list says so instead of naming a key
    with (ws / cfg.CONFIG_NAME).open("a", encoding="utf-8") as fh:
        fh.write(f'revoked = ["{new_id}@{at}"]\n')
    code, got = listed(ws)
    assert got[origin]["key"]["current"] is None
    assert "revoked" in got[origin]["key"]["problem"]
    assert "key NONE TRUSTED" in text(ws)[1]


def test_a_forked_pod_lists_stopped_with_its_proof(pod: Pod, tmp_path: Path) -> None:
    origin = pod.config.origin
    ws = central(tmp_path)
    add(ws, pod.url, pod.config.verifier_key)
    assert sync(ws)[0] == 0
    before = mirrored(ws, origin)
    code, got = listed(ws)
    assert (code, got[origin]["stopped"], got[origin]["fork_proofs"]) == (0, False, [])
    verified = got[origin]["last_verified"]

    other = pod.rewritten("pod-lv-rewritten", before[0] + 40)  # the pod's key, other entries
    try:
        config = ws / cfg.CONFIG_NAME
        config.write_text(config.read_text().replace(pod.url, other.url))
        code, r = sync(ws)
        assert (code, r["status"]) == (1, "fork"), r
        proof = Path(str(r["fork_proof"])).relative_to(ws)
        code, got = listed(ws)
        assert code == 1
        row = got[origin]
        assert row["stopped"] is True
        assert row["fork"] is True
        assert row["fork_proofs"] == [str(proof)]
        assert row["held_size"] == before[0]
        assert row["last_verified"] == verified  # the fork verified nothing new
        assert row["last_attempt"]["status"] == "fork"
        assert row["last_attempt"]["tree_size"] == before[0] + 40
        assert "fork proof" in row["last_attempt"]["error"]
        failing = row["last_attempt"]["failing_since"]
        assert failing == row["last_attempt"]["at"]

        code, r = sync(ws)  # stopped: the pod is not asked; recorded as the last attempt
        assert (code, r["status"]) == (1, "stopped")
        code, got = listed(ws)
        row = got[origin]
        assert (code, row["last_attempt"]["status"]) == (1, "stopped")
        assert row["last_attempt"]["tree_size"] is None
        assert row["last_attempt"]["failing_since"] == failing
        code, out = text(ws)
        assert code == 1
        assert f"  FORK, stopped: {proof}\n" in out
        assert f"edgeaudit mirror resolve {origin} --keep-held --reason TEXT" in out
        assert f"held {before[0]:,}" in out
    finally:
        other.stop()


def test_a_failed_sync_lists_the_error_and_keeps_the_held_size(pod: Pod, tmp_path: Path) -> None:
    origin = pod.config.origin
    ws = central(tmp_path)
    add(ws, pod.url, pod.config.verifier_key)
    assert sync(ws)[0] == 0
    _, got = listed(ws)
    held, verified = got[origin]["held_size"], got[origin]["last_verified"]
    assert held == 300
    assert verified["tree_size"] == 300
    assert got[origin]["last_attempt"]["error"] is None

    pod.stop()
    newer = pod.append(100)  # the pod keeps signing while the mirror cannot reach it
    try:
        code, r = sync(ws)
        assert (code, r["status"]) == (3, "unreachable"), r
        code, got = listed(ws)
        assert code == 0  # down is not a fork
        row = got[origin]
        assert row["held_size"] == held == mirrored(ws, origin)[0]
        assert row["last_verified"] == verified
        attempt = row["last_attempt"]
        assert attempt["status"] == "unreachable"
        assert attempt["error"] == r["message"]
        assert "the next sync resumes" in attempt["error"]
        assert attempt["tree_size"] is None
        assert attempt["failing_since"] == attempt["at"]
        code, out = text(ws)
        assert f"  held {held:,}" in out
        assert f"  verified {verified['at']}, checkpoint of size {held:,}\n" in out
        assert f"  last sync {attempt['at']} unreachable" in out
        assert r["message"] in out
    finally:
        pod.start()
    code, r = sync(ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", newer), r
    _, got = listed(ws)
    attempt = got[origin]["last_attempt"]
    assert (attempt["status"], attempt["error"], attempt["failing_since"]) == ("synced", None, None)
    assert got[origin]["last_verified"] == {"at": attempt["at"], "tree_size": newer}


def test_json_keys_and_the_cosignatures_kept(tmp_path: Path, clean_env: None) -> None:
    """Every key of the document, for a pod synced with two witnesses' cosignature lines on
    its checkpoint and for one never synced."""
    log = HostileLog(generate("hostile.example/pod-w"), event_entries("w", 300))
    witnesses = [
        Ed25519Cosigner(f"campus.example/w{i}", Ed25519PrivateKey.generate()) for i in (1, 2)
    ]
    cosigned = log.note(300)
    for w in witnesses:
        cosigned = w.add_signature(cosigned)
    hostile = HostilePod(log, 300)
    hostile.hook = lambda path, _h: Answer(200, cosigned) if path == "checkpoint" else None
    try:
        ws = central(tmp_path)
        code, _, err = run(
            "--workspace", str(ws), "mirror", "add", hostile.url, "--key", log.vkey,
            "--token-env", "LV_TOKEN",
        )  # fmt: skip
        assert code == 0, err
        never = generate("campus.example/pod-never").verifier_key
        append_mirror(cfg.load(ws), make_source("http://127.0.0.1:9", never, None, "test"))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("LV_TOKEN", "t0ken")
            code, r = sync(ws, log.origin)  # the other one never
        assert (code, r["status"]) == (0, "synced"), r
    finally:
        hostile.close()
    code, got = listed(ws)
    assert code == 0
    for row in got.values():
        assert set(row) == TOP
        assert set(row["key"]) == KEY
        assert set(row["witnessed"]) == WITNESSED
    row = got[log.origin]
    assert set(row["last_verified"]) == VERIFIED
    assert set(row["last_attempt"]) == ATTEMPT
    assert row["witnessed"] == {
        "tree_size": 300,
        "count": 2,
        "names": ["campus.example/w1", "campus.example/w2"],
        "problem": None,
    }
    assert (row["url"], row["stored_size"], row["fetched_size"]) == (hostile.url, 300, 300)
    assert row["last_status"] == "synced"
    assert row["fork"] is False
    assert isinstance(row["held_at"], str)
    empty = got["campus.example/pod-never"]
    assert empty["key"] == {
        "current": never,
        "mirror_key": never,
        "transitions": [],
        "problem": None,
    }
    assert (empty["held_size"], empty["held_at"], empty["stored_size"]) == (0, None, 0)
    assert (empty["last_verified"], empty["last_attempt"], empty["stopped"]) == (None, None, False)
    assert empty["witnessed"] == {"tree_size": 0, "count": 0, "names": [], "problem": None}
    out = text(ws)[1]
    assert (
        "  witnessed 2 cosignature line(s) for size 300: campus.example/w1, campus.example/w2"
        in out
    )
    assert "campus.example/pod-never  http://127.0.0.1:9\n" in out
    assert "  verified never\n  last sync never\n" in out

    # a kept copy of another checkpoint body under the held size is not counted
    kept = MirrorFiles(ws, log.origin).witnessed_path(300)
    kept.write_bytes(witnesses[0].add_signature(log.note(300, root_hash=b"\x01" * 32)))
    w = listed(ws)[1][log.origin]["witnessed"]
    assert (w["count"], w["names"]) == (0, [])
    assert "another checkpoint than the one held" in w["problem"]


def test_a_state_file_of_an_older_mirror_is_read(tmp_path: Path, clean_env: None) -> None:
    ws = central(tmp_path)
    vkey = generate("campus.example/pod-old").verifier_key
    append_mirror(cfg.load(ws), make_source("http://127.0.0.1:9", vkey, None, "test"))
    files = MirrorFiles(ws, "campus.example/pod-old")
    files.write_state(
        fetched_size=12, fetched_at="2026-12-01T10:00:00Z", status="synced", message=""
    )
    row = listed(ws)[1]["campus.example/pod-old"]
    assert row["last_verified"] == {"at": "2026-12-01T10:00:00Z", "tree_size": 12}
    assert row["last_attempt"]["error"] is None
    files.write_state(
        fetched_size=None, fetched_at="2026-12-02T10:00:00Z", status="error", message="HTTP 404"
    )
    row = listed(ws)[1]["campus.example/pod-old"]
    assert row["last_verified"] is None  # the older format kept only the last pass
    assert row["last_attempt"] == {
        "at": "2026-12-02T10:00:00Z",
        "status": "error",
        "tree_size": None,
        "error": "HTTP 404",
        "failing_since": None,
    }


def test_json_errors_are_on_stdout_too(tmp_path: Path, clean_env: None) -> None:
    ws = central(tmp_path)
    code, out, err = run("--workspace", str(ws), "--json", "mirror", "list", "extra")
    assert code == 2
    assert json.loads(out) == {
        "error": {"exit_code": 2, "message": "mirror list takes no argument"}
    }
    assert "edgeaudit: error: mirror list takes no argument" in err
    code, out, err = run("--workspace", str(tmp_path / "nowhere"), "--json", "mirror", "list")
    assert code == 2
    assert json.loads(out)["error"]["exit_code"] == 2
    assert "edgeaudit: error:" in err
