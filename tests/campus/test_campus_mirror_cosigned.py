"""Cosigned checkpoints reach the central store: a pod's ``serve`` publishes its newest
checkpoint with the cosignatures ``edgeaudit checkpoint`` gathered from the real witnesses, the
mirror keeps them beside the note it holds (the pod's log signature alone), a later cosigned
copy of a checkpoint it holds already adds them, and ``verify --log POD --witness-policy`` on
the central PostgreSQL store is met only when the witnesses cosigned the pod's newest
checkpoint."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

import pytest

from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.witness.gather import cosign
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.state import open_store
from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import note_size, ok_json, run, signers

pytestmark = pytest.mark.postgres  # the central store is PostgreSQL


def _served_note(mirror: Mirror, pod_name: str, size: int, cosigners: int) -> str:
    """The pod's ``/checkpoint`` once it is of ``size`` with ``cosigners`` witness lines
    (the service re-reads its checkpoint and the kept cosignatures within a second)."""
    served = mirror.served[pod_name]
    public = urllib.parse.urlsplit(served.url).netloc
    ask = urllib.request.Request(
        f"http://127.0.0.1:{served.port}/checkpoint", headers={"Host": public}
    )
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(ask, timeout=5) as answer:
            note = answer.read().decode()
        if note_size(note) == size and len(signers(note)) == 1 + cosigners:
            return note
        assert time.monotonic() < deadline, f"{pod_name} never served {size} ({note!r})"
        time.sleep(0.1)


def _verify(mirror: Mirror, origin: str, policy: str) -> tuple[int, str]:
    return run(*mirror.args, "verify", "--log", origin, "--witness-policy", policy)


def test_cosignatures_reach_the_central_store(campus: Campus, mirrored: Mirror) -> None:
    pod = campus.pods["pod-a"]
    both, one = str(campus.policy("2")), str(campus.policy("1"))
    witnesses = sorted(w.vkey.split("+")[0] for w in campus.witnesses)
    if pod.signed_size() != mirrored.sync(pod.origin)[1][pod.name]["held_size"]:
        pytest.fail("the mirror does not hold pod-a's newest checkpoint")
    # the fixture's checkpoint was cosigned by both witnesses and mirrored with them
    size = pod.signed_size()
    note = _served_note(mirrored, pod.name, size, 2)
    assert sorted(signers(note)[1:]) == witnesses
    code, out = _verify(mirrored, pod.origin, both)
    assert code == 0, out
    assert "witness policy" in out
    # the store holds the note as the pod's log signed it; the cosigned copy is beside it
    shown = ok_json(*mirrored.args, "checkpoint", "list", "--log", pod.origin)["checkpoints"]
    assert shown[-1]["tree_size"] == size
    kept = MirrorFiles(mirrored.ws, pod.origin).witnessed_path(size).read_text()
    assert kept == note

    # the witnesses are unreachable: the pod signs a new checkpoint alone, the mirror holds
    # it, and the central policy check fails for the pod's newest checkpoint
    for link in pod.links.values():
        link.down()
    try:
        size = pod.append(3, "uncosigned")
        code, data = pod.checkpoint()
        assert code == 0, data
        assert [w["cosigned"] for w in data["witnesses"]] == [False, False]
        _served_note(mirrored, pod.name, size, 0)
        code, result = mirrored.sync(pod.origin)
        assert code == 0, result
        assert result[pod.name]["status"] == "synced"
        assert result[pod.name]["held_size"] == size
        for policy in (both, one):
            code, out = _verify(mirrored, pod.origin, policy)
            assert code == 1, out
            assert "not met" in out
    finally:
        for link in pod.links.values():
            link.up()

    # the links are back: the pod asks its witnesses again for the checkpoint it signed
    # (what `checkpoint` does when nothing was appended since; here the mirror's reads were
    # recorded in the pod's log meanwhile), serves the cosigned copy, and the mirror keeps
    # this later copy of the checkpoint it holds
    config = cfg.load(pod.path)
    store, log = open_store(config)
    with store:
        latest = log.latest_checkpoint()
        assert latest is not None
        assert latest.tree_size == size
        _, outcomes = cosign(config, log, latest)
    assert [o.cosigned for o in outcomes] == [True, True]
    note = _served_note(mirrored, pod.name, size, 2)
    code, result = mirrored.sync(pod.origin)
    assert code == 0, result
    assert result[pod.name]["status"] == "up-to-date"
    code, out = _verify(mirrored, pod.origin, both)
    assert code == 0, out
    assert MirrorFiles(mirrored.ws, pod.origin).witnessed_path(size).read_text() == note


def test_a_forged_cosignature_line_fails_the_central_policy(
    campus: Campus, mirrored: Mirror
) -> None:
    """The mirror keeps the lines it was served without checking them; a line of a trusted
    witness that does not verify (altered on the way) fails ``verify --witness-policy``
    rather than counting."""
    pod = campus.pods["pod-a"]
    code, result = mirrored.sync(pod.origin)
    assert code == 0, result
    size = int(result[pod.name]["held_size"])
    path = MirrorFiles(mirrored.ws, pod.origin).witnessed_path(size)
    good = path.read_text()
    body, _, sigs = good.partition("\n\n")
    lines = sigs.splitlines()
    w1 = next(i for i, line in enumerate(lines) if line.split(" ")[1].startswith("w1."))
    name, b64 = lines[w1].rsplit(" ", 1)
    flipped = b64[:40] + ("A" if b64[40] != "A" else "B") + b64[41:]  # in the signature
    lines[w1] = f"{name} {flipped}"
    path.write_text(body + "\n\n" + "\n".join(lines) + "\n")
    try:
        code, out = _verify(mirrored, pod.origin, str(campus.policy("1")))
        assert code == 1, out
    finally:
        path.write_text(good)
    code, out = _verify(mirrored, pod.origin, str(campus.policy("2")))
    assert code == 0, out
