"""A real `edgeaudit witness serve` on loopback, fed real checkpoints and consistency proofs."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.cli.main import main
from edgeaudit.note.signer import Ed25519Signer
from tests.witness.conftest import (
    WitnessProcess,
    body,
    check_cosignature,
    make_pod,
    now,
    start_witness,
    witness_config,
)

SIZE_TYPE = "text/x.tlog.size"


def test_cosigns_only_what_extends_what_it_cosigned(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    note3 = pod.checkpoint()
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)

    # Never cosigned this log: only `old 0` is accepted; the 409 says 0.
    assert w.post(body(2, [], note3)) == (409, SIZE_TYPE, b"0\n")
    assert w.post(body(4, [], note3))[0] == 400  # old size above the checkpoint size
    assert w.get_checkpoint("edgeaudit.local/pod1")[0] == 404
    status, _ctype, answer = w.post(body(0, [], note3))
    assert status == 200, answer
    check_cosignature(answer.decode(), w.vkey, note3, now())

    pod.append(5)
    note8 = pod.checkpoint()
    proof = pod.proof(3, 8)
    assert proof  # a real, non-empty RFC 6962 proof
    assert w.post(body(0, [], note8)) == (409, SIZE_TYPE, b"3\n")
    status, _, answer = w.post(body(3, proof, note8))
    assert status == 200, answer
    check_cosignature(answer.decode(), w.vkey, note8, now())
    # The same submission again: the witness is past 3 now.
    assert w.post(body(3, proof, note8)) == (409, SIZE_TYPE, b"8\n")
    # The same checkpoint with `old 8` and no proof: cosigned again (nothing new).
    status, _, again = w.post(body(8, [], note8))
    assert status == 200
    check_cosignature(again.decode(), w.vkey, note8, now())
    # A wrong proof (one hash flipped) is a 422 and changes nothing.
    pod.append(2)
    note10 = pod.checkpoint()
    good = pod.proof(8, 10)
    bad = [good[0][:-1] + bytes([good[0][-1] ^ 1]), *good[1:]]
    assert w.post(body(8, bad, note10))[0] == 422
    assert w.post(body(8, good[:-1], note10))[0] == 422
    assert w.post(body(8, good, note10))[0] == 200

    # Monitoring: the latest cosigned checkpoint with the log's and the witness's signatures.
    status, monitored = w.get_checkpoint("edgeaudit.local/pod1")
    assert status == 200
    assert monitored.startswith(note10[: note10.index(b"\n\n") + 2])
    lines = monitored.decode().split("\n\n", 1)[1].splitlines(keepends=True)
    assert lines[0] == note10.decode().split("\n\n", 1)[1]
    check_cosignature(lines[1], w.vkey, note10, now())


def test_refusals_follow_the_spec(tmp_path: Path, witnesses: list[WitnessProcess]) -> None:
    pod = make_pod(tmp_path / "pod")
    stranger = make_pod(tmp_path / "stranger", site="pod9")
    impostor = make_pod(tmp_path / "impostor", site="x", origin="edgeaudit.local/pod1")
    for p in (pod, stranger, impostor):
        p.append(2)
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)
    note = pod.checkpoint()

    assert w.post(body(0, [], stranger.checkpoint()))[0] == 404  # unknown origin
    assert w.post(body(0, [], impostor.checkpoint()))[0] == 403  # same origin, other key
    # A trusted key's line whose signature does not verify: 403.
    head, sig = note.rsplit(b" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    assert w.post(body(0, [], head + b" " + base64.b64encode(bytes(raw)) + b"\n"))[0] == 403
    # Malformed requests: 400.
    assert w.post(b"old 0\n" + note)[0] == 400  # no empty line before the checkpoint
    assert w.post(body(0, [], note).replace(b"old 0", b"old 00"))[0] == 400
    assert w.post(body(0, [b"\x00" * 32] * 64, note))[0] == 400  # more than 63 proof lines
    assert w.post(b"old 0\nnot base64!\n\n" + note)[0] == 400
    # `old 0` with a proof: 422.
    assert w.post(body(0, [b"\x00" * 32], note))[0] == 422
    # A size-0 checkpoint must carry the empty tree's root, even signed by the log's key.
    signer = Ed25519Signer("edgeaudit.local/pod1", load_key_any(pod.path / "keys" / "log.key"))
    empty = signer.sign_note(
        b"edgeaudit.local/pod1\n0\n" + base64.b64encode(hashlib.sha256(b"").digest()) + b"\n"
    )
    wrong = signer.sign_note(b"edgeaudit.local/pod1\n0\n" + base64.b64encode(b"\x01" * 32) + b"\n")
    assert w.post(body(0, [], wrong))[0] == 422
    assert w.post(body(0, [], empty))[0] == 200
    assert w.post(body(0, [], note))[0] == 200  # from the empty tree, no proof needed
    assert w.post(b"GET-ish")[0] == 400
    assert w.get_checkpoint("edgeaudit.local/pod9")[0] == 404


def load_key_any(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_rewritten_history_signed_with_the_log_key_is_refused(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    pod.checkpoint()
    fork = pod.fork(tmp_path / "fork")  # same origin, same key
    pod.append(3, tag="honest")
    fork.append(3, tag="rewritten")
    honest6, forged6 = pod.checkpoint(), fork.checkpoint()
    assert honest6.split(b"\n")[2] != forged6.split(b"\n")[2]
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)

    assert w.post(body(0, [], honest6))[0] == 200
    assert w.post(body(6, [], forged6))[0] == 422  # same size, other root
    assert w.post(body(3, fork.proof(3, 6), forged6)) == (409, SIZE_TYPE, b"6\n")
    fork.append(2, tag="rewritten")
    forged8 = fork.checkpoint()
    assert w.post(body(6, fork.proof(6, 8), forged8))[0] == 422  # proof from its own 6
    status, monitored = w.get_checkpoint("edgeaudit.local/pod1")
    assert status == 200
    assert monitored.split(b"\n")[:3] == honest6.split(b"\n")[:3]
    # Both forged checkpoints (signed by the log's key) are kept as proof of the fork.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["witness", "forks", "--config", str(w.config), "--json"])
    assert code == 1
    forks = json.loads(out.getvalue())["forks"]
    assert [f["note"].encode() for f in forks] == [forged6, forged8]
    assert all(f["cosigned"].startswith(honest6.decode().split("\n\n")[0]) for f in forks)
