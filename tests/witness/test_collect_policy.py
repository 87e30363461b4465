"""Collecting cosignatures from several real witnesses, and the "at least N" witness policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.errors import NoteError, VerificationError
from edgeaudit.note.verifier import CosignatureVerifier, Verifier, verify_checkpoint
from edgeaudit.witness.cosign import Witness, collect_cosignatures
from edgeaudit.witness.policy import check_witness_policy
from tests.witness.conftest import (
    WitnessProcess,
    body,
    check_cosignature,
    make_pod,
    now,
    start_witness,
    witness_config,
)


def test_collects_from_those_that_answer_and_the_policy_counts_them(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    note3 = pod.checkpoint()
    w1 = start_witness(witness_config(tmp_path / "w1", "witness.test/w1", [pod]))
    w2 = start_witness(witness_config(tmp_path / "w2", "witness.test/w2", [pod]))
    w3 = start_witness(witness_config(tmp_path / "w3", "witness.test/w3", [pod]))
    witnesses.extend([w1, w2, w3])
    assert w1.post(body(0, [], note3))[0] == 200  # w1 already holds size 3
    w3.stop()  # down
    pod.append(4)
    note7 = pod.checkpoint()
    ws = [Witness(w.url, CosignatureVerifier.parse(w.vkey)) for w in (w1, w2, w3)]

    result = collect_cosignatures(note7, ws, pod.proof, timeout=2.0)
    assert result.answered == (ws[0], ws[1])  # w1 after its 409 and a proof from 3, w2 from 0
    assert result.answers[2].error is not None
    assert "127.0.0.1" in result.answers[2].error
    text = result.note.decode()
    for w in (w1, w2):
        line = next(x for x in text.splitlines(keepends=True) if f" {w.vkey.split('+')[0]} " in x)
        check_cosignature(line, w.vkey, note7, now())
    # Still the log's valid checkpoint, and a policy of 2 of the three witnesses is met.
    verify_checkpoint(result.note, [Verifier.parse(pod.vkey())])
    keys = [w.key for w in ws]
    assert check_witness_policy(result.note, keys, 2) == (ws[0].key.label, ws[1].key.label)
    with pytest.raises(VerificationError, match="2 of the required 3"):
        check_witness_policy(result.note, keys, 3)
    with pytest.raises(VerificationError, match="0 of the required 1"):
        check_witness_policy(note7, keys, 1)  # the bare note: no cosignature
    # A trusted witness's line that does not verify makes the note malformed.
    lines = result.note.decode().split("\n")
    i = next(i for i, x in enumerate(lines) if x.startswith("\u2014 witness.test/w1 "))
    lines[i] = lines[i][:-6] + ("AAAA==" if not lines[i].endswith("AAAA==") else "BBBB==")
    with pytest.raises(NoteError):
        check_witness_policy("\n".join(lines).encode(), keys, 1)


def test_a_witness_ahead_of_the_log_is_reported_not_followed(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(2)
    note2 = pod.checkpoint()
    pod.append(2)
    note4 = pod.checkpoint()
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)
    assert w.post(body(0, [], note4))[0] == 200
    key = CosignatureVerifier.parse(w.vkey)
    result = collect_cosignatures(note2, [Witness(w.url, key)], pod.proof)
    assert result.answered == ()
    assert "409" in (result.answers[0].error or "")
    assert result.note == note2
