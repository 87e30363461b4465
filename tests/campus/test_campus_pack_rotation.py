"""A campus pack of pods that rotated their log key (ADR 0014; ADR 0017, the mirror follows
it): real pods (``edgeaudit serve`` on SQLite) rotated with ``edgeaudit key rotate`` and synced
by a central workspace whose ``[[mirror]]`` tables keep each pod's first key. ``pack build
--campus`` checks the held notes through the chain the mirror trusts; each part carries the
transition (as an earlier checkpoint, or as its checkpoint when the mirror holds the
transition's very size), so the pack verifies for an auditor who trusts a pod's original key
and for one who trusts only its new key. A kept pod note the new key signed is a valid
``--previous``. A forged transition (signed by the next key alone) is never followed: the build
refuses a held note only it would lead to."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.events import prepare
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate
from edgeaudit.note.transition import transition_lines
from edgeaudit.note.verifier import parse_note
from edgeaudit.store import Store
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Pod, central, events
from tests.pack.helpers import run

PERIOD = ("--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z")


def ok(*argv: str) -> dict[str, Any]:
    code, out, err = run("--json", *argv)
    assert code == 0, f"edgeaudit {' '.join(argv)} -> {code}\n{out}\n{err}"
    data: dict[str, Any] = json.loads(out)
    return data


def _latest_note(pod: Pod) -> str:
    config = pod.config
    with Store.open(config.db_url) as store:
        cp = store.log(config.origin).latest_checkpoint()
        assert cp is not None
        return cp.note


@dataclass(frozen=True)
class Rotated:
    ws: Path  # the central workspace
    grown: Pod  # rotated, then grew: its part's note is signed by the new key
    edge: Pod  # rotated, nothing appended since: the mirror holds the transition itself
    keys: dict[str, tuple[str, str]]  # pod name: (first key, new key)
    transitions: dict[str, int]  # pod name: size of its transition
    mid_note: str  # a note of `grown` the new key signed, older than the held one
    central_key: str
    mkey: Path


def _sync(ws: Path) -> None:
    data = ok("-w", str(ws), "mirror", "sync", "--rate", "0")
    assert {m["status"] for m in data["mirrors"]} <= {"synced", "up-to-date"}, data


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rotated]:
    root = tmp_path_factory.mktemp("campus-rotation")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        grown, edge = Pod(root, "pod-grown").init(), Pod(root, "pod-edge").init()
        grown.append(120)
        edge.append(70)
        ws = central(root)
        keys: dict[str, tuple[str, str]] = {}
        transitions: dict[str, int] = {}
        try:
            for pod in (grown, edge):
                pod.start()
                var = f"ROT_{pod.name.upper().replace('-', '_')}"
                mp.setenv(var, pod.token())
                vkey = pod.config.verifier_key
                ok("-w", str(ws), "mirror", "add", pod.url, "--key", vkey, "--token-env", var)
            _sync(ws)
            for pod in (grown, edge):
                first = pod.config.verifier_key
                out = ok("-w", str(pod.ws), "key", "rotate")
                transitions[pod.name] = int(out["transition_size"])
                keys[pod.name] = (first, pod.config.verifier_key)
                assert keys[pod.name][0] != keys[pod.name][1]
            grown.append(40)
            mid_note = _latest_note(grown)
            _sync(ws)
            grown.append(30)
            edge.published(transitions[edge.name])
            _sync(ws)
        finally:
            for pod in (grown, edge):
                pod.stop()
        central_key = str(ok("-w", str(ws), "key", "show")["verifier_key"])
        mkey = root / "manifest.pub"
        ok("-w", str(ws), "pack", "key", "--out", str(mkey))
        yield Rotated(ws, grown, edge, keys, transitions, mid_note, central_key, mkey)


def _build(ws: Path, out: Path, *extra: str) -> tuple[int, str]:
    code, text, err = run(
        "--json", "-w", str(ws), "pack", "build", "--campus", *PERIOD, "--no-pdf",
        "--out", str(out), *extra,
    )  # fmt: skip
    return code, text + err


def _verify(r: Rotated, pack: Path, *args: str, keys: list[str]) -> tuple[int, str]:
    path = pack.parent / f"{pack.name}.keys"
    path.write_text("".join(f"{k}\n" for k in (r.central_key, *keys)))
    code, out, err = run(
        "verify", str(pack), "--keys", str(path), "--manifest-key", str(r.mkey), *args
    )
    return code, out + err


def _parts(out: Path) -> dict[str, str]:
    manifest = json.loads((out / pf.MANIFEST).read_text())
    return {item["origin"].rsplit("/", 1)[1]: item["part"] for item in manifest["logs"]}


def test_rotated_pods_pack_and_verify_with_either_key(rotated: Rotated, tmp_path: Path) -> None:
    out = tmp_path / "campus"
    code, text = _build(rotated.ws, out)
    assert code == 0, text
    parts = _parts(out)
    assert sorted(parts) == ["pod-edge", "pod-grown"]
    grown, edge = parts["pod-grown"], parts["pod-edge"]
    old_g, new_g = rotated.keys["pod-grown"]
    old_e, new_e = rotated.keys["pod-edge"]
    # pod-grown: its note is the new key's; the transition is one of its earlier checkpoints
    note = parse_note((out / f"{grown}.{pf.CHECKPOINT}").read_bytes())
    assert [s.key_id for s in note.signatures] == [parse_note_key(new_g)]
    carried = [
        json.loads(line)["old_size"]
        for line in (out / f"{grown}.{pf.CONSISTENCY_LOG}").read_text().splitlines()
    ]
    assert rotated.transitions["pod-grown"] in carried
    # pod-edge: the mirror holds the transition's very size; the part's note is the transition
    cp = Checkpoint.parse(parse_note((out / f"{edge}.{pf.CHECKPOINT}").read_bytes()).body)
    assert cp.size == rotated.transitions["pod-edge"]
    assert cp.extensions == tuple(transition_lines(old_e, new_e))
    for keys in ([old_g, old_e], [new_g, new_e], [old_g, new_e], [new_g, old_e]):
        code, text = _verify(rotated, out, keys=keys)
        assert code == 0, text
    # a key the pod never had, in place of either: refused
    stranger = generate(rotated.grown.config.origin).verifier_key
    code, text = _verify(rotated, out, keys=[stranger, old_e])
    assert code == 1, text
    assert f"{grown}.{pf.CHECKPOINT}" in text
    # revoking the first key before the transition: its hand-over is not followed
    kid = old_g.split("+")[1]
    code, text = _verify(rotated, out, "--revoked", f"{kid}@1", keys=[old_g, old_e])
    assert code == 1, text


def parse_note_key(vkey: str) -> bytes:
    return bytes.fromhex(vkey.split("+")[1])


def test_a_kept_note_of_the_new_key_is_a_previous(rotated: Rotated, tmp_path: Path) -> None:
    kept = tmp_path / "kept.note"
    kept.write_text(rotated.mid_note)
    out = tmp_path / "campus"
    code, text = _build(rotated.ws, out, "--previous", str(kept))
    assert code == 0, text
    grown = _parts(out)["pod-grown"]
    doc = json.loads((out / f"{grown}.{pf.CONSISTENCY}").read_text())
    assert doc["old_checkpoint"] == rotated.mid_note
    old_g, new_g = rotated.keys["pod-grown"]
    for key in (old_g, new_g):
        code, text = _verify(
            rotated, out, "--trusted-checkpoint", str(kept),
            keys=[key, rotated.keys["pod-edge"][1]],
        )  # fmt: skip
        assert code == 0, text


def test_a_forged_transition_is_never_followed(rotated: Rotated, tmp_path: Path) -> None:
    """In a copy of the central workspace, the pod's mirror is given two more entries and a
    transition to an attacker's key signed by that key alone (as a hostile pod would serve
    it, were the mirror to store it): the build refuses the held note, and then a note the
    attacker signed beyond it."""
    ws = tmp_path / "central"
    shutil.copytree(rotated.ws, ws)
    origin = rotated.grown.config.origin
    attacker = generate(origin)
    new_g = rotated.keys["pod-grown"][1]
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        mirror = store.mirror(origin)
        size = mirror.size()
        size = mirror.extend(size, [prepare(e).body for e in events("forged", 9000, 2)])
        with mirror.log.reader() as reader:
            root = reader.root(size)
        forged = attacker.sign_checkpoint(
            Checkpoint(origin, size, root, tuple(transition_lines(new_g, attacker.verifier_key)))
        )
        mirror.hold_checkpoint(size, root, forged.decode())
    out = tmp_path / "refused"
    code, text = _build(ws, out)
    assert code == 2, text
    assert f"the held checkpoint of {origin}" in text
    assert not (out / pf.MANIFEST).exists()
    with Store.open(config.db_url) as store:
        mirror = store.mirror(origin)
        size = mirror.extend(size, [prepare(e).body for e in events("forged", 9002, 2)])
        with mirror.log.reader() as reader:
            root = reader.root(size)
        note = attacker.sign_checkpoint(Checkpoint(origin, size, root))
        mirror.hold_checkpoint(size, root, note.decode())
    code, text = _build(ws, out)
    assert code == 2, text
    assert f"the held checkpoint of {origin}" in text
    assert not (out / pf.MANIFEST).exists()


def test_a_forged_transition_in_the_pack_is_never_followed(
    rotated: Rotated, tmp_path: Path
) -> None:
    """The insider (the central manifest key, no pod key) replaces a pod part's note with a
    transition of the same tree to a key of its own, signed by that key alone, and re-signs
    the manifest: no auditor, of the first key or of the new one, follows it."""
    from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
    from edgeaudit.workspace.manifest_key import manifest_signing_key

    out = tmp_path / "campus"
    code, text = _build(rotated.ws, out)
    assert code == 0, text
    grown = _parts(out)["pod-grown"]
    path = out / f"{grown}.{pf.CHECKPOINT}"
    cp = Checkpoint.parse(parse_note(path.read_bytes()).body)
    attacker = generate(cp.origin)
    new_g = rotated.keys["pod-grown"][1]
    lines = tuple(transition_lines(new_g, attacker.verifier_key))
    path.write_bytes(attacker.sign_checkpoint(Checkpoint(cp.origin, cp.size, cp.root, lines)))
    manifest = json.loads((out / pf.MANIFEST).read_text())
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    names = sorted(p.name for p in out.iterdir() if p.name not in pf.SIGNATURE_FILES)
    with manifest_signing_key(cfg.load(rotated.ws)) as (private, public):
        payload = manifest_bytes(header, list_files(out, names), public)
        (out / pf.MANIFEST).write_bytes(payload)
        (out / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))
    for key in rotated.keys["pod-grown"]:
        code, text = _verify(rotated, out, keys=[key, rotated.keys["pod-edge"][1]])
        assert code == 1, text
        assert f"{grown}.{pf.CHECKPOINT}" in text
        assert "1 problem(s)" in text
        assert "no signature from a trusted key" in text
