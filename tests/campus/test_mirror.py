"""Issue 18, item 3: the central PostgreSQL workspace mirrors the pods over their tiles. A pod's
link is cut in the middle of a transfer (reset, or closed mid-answer); the next sync resumes
from what was stored (nothing stored twice) and completes; a pod cut off does not hold up the
others and is caught up; a pod whose history was rewritten with its key is refused, the fork
proof kept, exit 1; the mirrored logs verify in the central store (``verify --log``)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.campus.conftest import Campus, Mirror
from tests.campus.parts import Pod, ok_json, rewrite_history, run, run_json

pytestmark = pytest.mark.postgres  # the central store is PostgreSQL

BULK = 2300  # 9 entry bundles of 256 and a partial one
CUT_AFTER = 40_000  # bytes: the checkpoint, the hash tiles and a few bundles, never all


def _published(mirror: Mirror, pod: Pod, size: int) -> None:
    """Wait until the pod's service publishes its checkpoint of ``size`` (it caches its latest
    checkpoint for up to a second), asked directly, not over the link the test watches."""
    served = mirror.served[pod.name]
    public = urllib.parse.urlsplit(served.url).netloc  # the service answers its public name
    ask = urllib.request.Request(
        f"http://127.0.0.1:{served.port}/checkpoint", headers={"Host": public}
    )
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(ask, timeout=5) as answer:
            if answer.read().split(b"\n")[1] == str(size).encode():
                return
        assert time.monotonic() < deadline, f"{pod.name} never published size {size}"
        time.sleep(0.1)


def _grow(mirror: Mirror, pod: Pod) -> tuple[int, int]:
    """(size the mirror holds, size of the new checkpoint) after appending a bulk of entries."""
    held = pod.signed_size()
    target = pod.append(BULK, "bulk")
    code, data = pod.checkpoint()
    assert code == 0, data
    assert data["tree_size"] == target
    _published(mirror, pod, target)
    return held, target


def _cut(mirror: Mirror, pod: Pod, held: int, target: int, reset: bool) -> int:
    """Sync with the link cut mid-transfer; the size stored (part of the new entries)."""
    link = mirror.served[pod.name].link
    partial = held
    # four connections share the link's bytes: a cut may come before any bundle is whole, so
    # the cut moves later until part of the new entries is stored
    for cut in (CUT_AFTER, 2 * CUT_AFTER, 3 * CUT_AFTER, 4 * CUT_AFTER):
        link.cut_after(cut, reset=reset)
        code, result = mirror.sync(pod.origin, "--batch", "256")
        r = result[pod.name]
        assert code == 3, str(r)  # unreachable: inconclusive, not a failure of the pod
        assert r["status"] == "unreachable", str(r)
        assert r["held_size"] == held  # the new checkpoint is not held before all is stored
        partial = int(r["stored_size"])
        link.up()
        if partial > held:
            break
    assert held < partial < target, str(r)  # cut in the middle: part stored, resumable
    code, out = run(*mirror.args, "mirror", "list")
    assert code == 0, out
    return partial


def _resume(mirror: Mirror, pod: Pod, partial: int, target: int) -> None:
    mirror.served[pod.name].link.up()
    code, result = mirror.sync(pod.origin, "--batch", "256")
    r = result[pod.name]
    assert code == 0, str(r)
    assert r["status"] == "synced", str(r)
    assert r["held_size"] == r["stored_size"] == target
    assert r["stored"] == target - partial  # resumed: only what was missing is stored


def test_a_link_reset_mid_transfer_resumes_and_completes(campus: Campus, mirrored: Mirror) -> None:
    pod = campus.pods["pod-a"]
    held, target = _grow(mirrored, pod)
    partial = _cut(mirrored, pod, held, target, reset=True)
    _resume(mirrored, pod, partial, target)

    # idempotent: another pass stores nothing
    code, result = mirrored.sync(pod.origin)
    assert code == 0, str(result)
    assert result["pod-a"]["status"] == "up-to-date"
    assert result["pod-a"]["stored"] == 0
    # the central store's copy of pod-a verifies on its own, trusted with pod-a's key
    code, out = run(*mirrored.args, "verify", "--log", pod.origin)
    assert code == 0, out
    assert f"{target} entries" in out


def test_a_link_closed_mid_answer_resumes_and_completes(campus: Campus, mirrored: Mirror) -> None:
    pod = campus.pods["pod-a"]
    held, target = _grow(mirrored, pod)
    partial = _cut(mirrored, pod, held, target, reset=False)
    _resume(mirrored, pod, partial, target)


def test_an_unreachable_pod_does_not_hold_up_the_others(campus: Campus, mirrored: Mirror) -> None:
    pod = campus.pods["pod-b"]
    link = mirrored.served["pod-b"].link
    link.down()  # pod-b's WAN link is cut; it keeps appending and signing
    target = pod.append(30, "cut-off")
    code, data = pod.checkpoint()
    assert code == 0, data
    assert data["tree_size"] == target
    code, result = mirrored.sync()
    assert code == 3, str(result)  # one pod unreachable: inconclusive
    assert result["pod-b"]["status"] == "unreachable"
    assert result["pod-b"]["held_size"] < target
    for other in ("pod-a", "pod-c"):
        assert result[other]["status"] in ("up-to-date", "synced"), str(result[other])
    link.up()  # it reconnects: the mirror catches up
    _published(mirrored, pod, target)
    code, result = mirrored.sync(pod.origin)
    assert code == 0, str(result)
    assert result["pod-b"]["status"] == "synced"
    assert result["pod-b"]["held_size"] == target
    code, out = run(*mirrored.args, "verify", "--log", pod.origin)
    assert code == 0, out


def test_a_rewritten_pod_is_refused_and_the_fork_proof_kept(
    campus: Campus, mirrored: Mirror, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pod = campus.pods["pod-c"]
    served = mirrored.served["pod-c"]
    code, result = mirrored.sync(pod.origin)
    assert code == 0, str(result)
    held = result["pod-c"]["held_size"]
    honest = str(ok_json(*pod.ws, "checkpoint", "show", str(held))["note"])
    honest_body = honest.split("\n\n", 1)[0]

    # pod-c's operator rewrites the history with the pod's key (same size, other entries),
    # without asking the witnesses, and serves it in place of the old one
    forged = rewrite_history(pod, tmp_path / "pod-c-rewritten", ask_witnesses=False)
    assert forged.append(held, "rewritten") == held
    code, data = forged.checkpoint()
    assert code == 0, data
    forged_note = str(data["note"])
    assert forged_note.split("\n")[2] != honest.split("\n")[2]
    impostor = served.impostor(forged)
    request.addfinalizer(impostor.stop)
    request.addfinalizer(served.restore)

    code, result = mirrored.sync()
    assert code == 1, str(result)  # a fork: exit 1, whatever the other pods did
    r = result["pod-c"]
    assert r["status"] == "fork", str(r)
    assert r["held_size"] == r["stored_size"] == held  # nothing stored over what it holds
    proof = mirrored.ws / str(r["fork_proof"])
    assert proof.stat().st_mode & 0o777 == 0o600
    text = proof.read_text()
    assert honest_body in text  # both notes the pod's key signed: the proof of the fork
    assert forged_note in text
    for other in ("pod-a", "pod-b"):
        assert result[other]["status"] in ("up-to-date", "synced"), str(result[other])

    # the origin stays stopped; list says FORK and exits 1
    code, result = mirrored.sync(pod.origin)
    assert code == 1, str(result)
    assert result["pod-c"]["status"] == "stopped"
    code, listed = run_json(*mirrored.args, "mirror", "list")
    assert code == 1, listed
    forks = {m["origin"]: m["fork"] for m in listed["mirrors"]}
    assert forks == {p.origin: p.name == "pod-c" for p in campus.pods.values()}

    # the central store still holds pod-c's honest history, which verifies with pod-c's key,
    # as do the other pods' copies; the central log holds the fork alert and verifies
    for p in campus.pods.values():
        code, out = run(*mirrored.args, "verify", "--log", p.origin)
        assert code == 0, (p.name, out)
    code, out = run(*mirrored.args, "verify")
    assert code == 0, out
    status = ok_json(*mirrored.args, "status")
    assert "mirror.fork" in json.dumps(status)

    # settled: the pod serves its honest history again and the operator moves the proof to
    # forks/resolved/ (as the message says); the origin syncs again, up to date
    served.restore()
    impostor.stop()
    code, result = mirrored.sync(pod.origin)
    assert code == 1, str(result)  # still stopped while the proof is there
    resolved = proof.parent / "resolved"
    resolved.mkdir(exist_ok=True)
    proof.rename(resolved / proof.name)
    code, result = mirrored.sync()
    assert code == 0, str(result)
    assert result["pod-c"]["status"] == "up-to-date", str(result["pod-c"])
    assert result["pod-c"]["held_size"] == held
