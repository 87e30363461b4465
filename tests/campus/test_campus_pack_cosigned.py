"""Issue 18, "pack checkpoints carry the cosignatures": a pod part's note in a campus pack is
the cosigned copy ``mirror sync`` keeps beside the held note (same signed body, the pod's own
signature line as held), so ``verify PACK --witness-policy`` can be met for every pod part. Real
witnesses (the session's campus): each pod's newest checkpoint is cosigned by both, served and
mirrored; the pack's pod parts meet a policy naming both witnesses, and the same policy fails
for a pod whose cosigned copy the central workspace no longer keeps. (The central log has no
witness in this campus: its own note fails the policy, as the policy applies to every note.)"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.verifier import parse_note
from edgeaudit.verify import pack_format as pf
from edgeaudit.witness.gather import cosign
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.state import open_store
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import Pod, note_size, ok_json, run, signers

pytestmark = pytest.mark.postgres  # the central store is PostgreSQL

PERIOD = ("--from", "2026-11-01T00:00:00Z", "--to", "2026-11-03T00:00:00Z")


def _cosigned(pod: Pod, mirror: Mirror) -> int:
    """Have both witnesses cosign the pod's newest checkpoint, wait until its service serves
    the cosigned copy, and sync it; the size."""
    config = cfg.load(pod.path)
    store, log = open_store(config)
    with store:
        latest = log.latest_checkpoint()
        assert latest is not None
        _, outcomes = cosign(config, log, latest)
    assert [o.cosigned for o in outcomes] == [True, True]
    served = mirror.served[pod.name]
    ask = urllib.request.Request(
        f"http://127.0.0.1:{served.port}/checkpoint",
        headers={"Host": urllib.parse.urlsplit(served.url).netloc},
    )
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(ask, timeout=5) as answer:
            note = answer.read().decode()
        if note_size(note) == latest.tree_size and len(signers(note)) == 3:
            break
        assert time.monotonic() < deadline, f"{pod.name} never served its cosigned note"
        time.sleep(0.1)
    code, result = mirror.sync(pod.origin)
    assert code == 0, result
    assert result[pod.name]["held_size"] == latest.tree_size, result
    return latest.tree_size


def _failing(out: str) -> set[str]:
    """The files ``verify`` reports a problem for (one ``FILE: message`` line each)."""
    return {line.split(":", 1)[0].strip() for line in out.splitlines()[1:] if ":" in line}


def test_pod_parts_carry_the_cosignatures(campus: Campus, mirrored: Mirror, tmp_path: Path) -> None:
    sizes = {pod.origin: _cosigned(pod, mirrored) for pod in campus.pods.values()}
    ws = mirrored.ws
    keys = tmp_path / "campus.keys"
    central_key = str(ok_json("-w", str(ws), "key", "show")["verifier_key"])
    pod_keys = [pod.vkey() for pod in campus.pods.values()]
    keys.write_text("".join(f"{k}\n" for k in (central_key, *pod_keys)))
    mkey = tmp_path / "manifest.pub"
    ok_json("-w", str(ws), "pack", "key", "--out", str(mkey))
    policy = str(campus.policy("2"))
    witnesses = sorted(w.vkey.split("+")[0] for w in campus.witnesses)

    def build(out: Path) -> dict[str, str]:
        data = ok_json(
            "-w", str(ws), "pack", "build", "--campus", *PERIOD, "--no-pdf", "--out", str(out)
        )
        return {p["origin"]: p["part"] for p in data["parts"]}

    def verify(pack: Path, *extra: str) -> tuple[int, str]:
        return run("verify", str(pack), "--keys", str(keys), "--manifest-key", str(mkey), *extra)

    pack = tmp_path / "cosigned"
    parts = build(pack)
    assert sorted(parts) == sorted(sizes)
    for origin, part in parts.items():
        note = (pack / f"{part}.{pf.CHECKPOINT}").read_bytes()
        names = [s.name for s in parse_note(note).signatures]
        assert names[0] == origin, names  # the pod's own line first, as held
        assert sorted(names[1:]) == witnesses, names
    code, out = verify(pack)
    assert code == 0, out
    code, out = verify(pack, "--witness-policy", policy)
    assert code == 1, out
    assert _failing(out) == {pf.CHECKPOINT}, out  # the central note alone: no witness there

    # the central workspace no longer keeps one pod's cosigned copy: that part's note is the
    # held note alone, and the policy fails for it too
    pod = campus.pods["pod-b"]
    kept = MirrorFiles(ws, pod.origin).witnessed_path(sizes[pod.origin])
    saved = kept.read_bytes()
    kept.unlink()
    try:
        bare = tmp_path / "bare"
        parts = build(bare)
        note = (bare / f"{parts[pod.origin]}.{pf.CHECKPOINT}").read_bytes()
        assert [s.name for s in parse_note(note).signatures] == [pod.origin]
        code, out = verify(bare)
        assert code == 0, out
        code, out = verify(bare, "--witness-policy", policy)
        assert code == 1, out
        assert _failing(out) == {pf.CHECKPOINT, f"{parts[pod.origin]}.{pf.CHECKPOINT}"}, out
        # a damaged copy (another signed body) is not carried either
        kept.write_bytes(saved.replace(b"\n", b"\n\n", 1))
        parts = build(bare.with_name("damaged"))
        note = (bare.with_name("damaged") / f"{parts[pod.origin]}.{pf.CHECKPOINT}").read_bytes()
        assert [s.name for s in parse_note(note).signatures] == [pod.origin]
    finally:
        kept.write_bytes(saved)
    assert json.loads((pack / pf.MANIFEST).read_text())["format"] == pf.FORMAT_V3
