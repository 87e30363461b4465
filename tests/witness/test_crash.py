"""The witness never cosigns two inconsistent checkpoints: not under concurrent forks, not
when SIGKILLed between storing a new size and answering."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.witness.conftest import (
    WitnessProcess,
    body,
    check_cosignature,
    make_pod,
    now,
    start_witness,
    witness_config,
)


def test_killed_between_storing_and_answering(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    pod.checkpoint()
    fork = pod.fork(tmp_path / "fork")
    pod.append(2, tag="honest")
    fork.append(2, tag="rewritten")
    honest, forged = pod.checkpoint(), fork.checkpoint()
    config = witness_config(tmp_path / "w", "witness.test/w1", [pod])
    marker = tmp_path / "stored"
    w = start_witness(config, "--pause-after-store", str(marker))
    witnesses.append(w)

    answers: list[object] = []

    def submit() -> None:
        try:
            answers.append(w.post(body(0, [], honest)))
        except OSError as exc:  # the connection dies with the process
            answers.append(exc)

    t = threading.Thread(target=submit)
    t.start()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the witness never stored"
        time.sleep(0.01)
    w.stop(signal.SIGKILL)  # stored, not answered
    t.join(timeout=10)
    assert len(answers) == 1
    assert isinstance(answers[0], OSError)

    w2 = start_witness(config)
    witnesses.append(w2)
    # The stored size survived the kill: the forged history gets no cosignature.
    assert w2.post(body(0, [], forged)) == (409, "text/x.tlog.size", b"5\n")
    assert w2.post(body(5, [], forged))[0] == 422
    status, _, answer = w2.post(body(5, [], honest))
    assert status == 200
    check_cosignature(answer.decode(), w2.vkey, honest, now())


def test_concurrent_forks_get_one_cosignature(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(2)
    pod.checkpoint()
    forks = [pod.fork(tmp_path / f"fork{i}") for i in range(3)]
    notes = []
    for i, f in enumerate(forks):
        f.append(2, tag=f"fork{i}")
        notes.append(f.checkpoint())
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)
    assert w.post(body(0, [], pod.checkpoint()))[0] == 200  # size 2, the common prefix
    proofs = [f.proof(2, 4) for f in forks]
    jobs = [(i, body(2, proofs[i], notes[i])) for i in range(3)] * 10
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda job: (job[0], w.post(job[1])), jobs))
    winners = {i for i, (status, _, _) in results if status == 200}
    assert len(winners) == 1
    assert sum(status == 200 for _, (status, _, _) in results) == 1
    assert {status for _, (status, _, _) in results} == {200, 409}
