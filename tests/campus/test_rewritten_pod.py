"""Issue 18: pod-c's operator rewrites its history with the pod's own key after the witnesses
cosigned it. The rewritten store is self-consistent and correctly signed, so ``verify``
alone passes; the witnesses refuse to cosign it (C2SP: 422), keep the fork as proof,
``checkpoint`` says so, and ``verify`` with the witness policy fails."""

from __future__ import annotations

from pathlib import Path

from tests.campus.conftest import Campus
from tests.campus.parts import Pod, note_root, note_size, rewrite_history, run, signers


def _refused_by_both(forged: Pod, size: int) -> str:
    code, data = forged.checkpoint()
    assert code == 0, data  # signing is the pod's business; refusals are reported
    assert data["tree_size"] == size
    assert signers(data["note"]) == [forged.origin]
    for w in data["witnesses"]:
        assert w["cosigned"] is False, w
        assert "refused the checkpoint (422)" in w["error"], w
    code, out = run(*forged.ws, "checkpoint")  # the text output says it too
    assert code == 0, out
    assert "cosigned by 0 of 2 witness(es)" in out
    assert out.count("refused the checkpoint (422)") == 2, out
    return str(data["note"])


def test_a_history_rewritten_with_the_pods_key_is_refused(campus: Campus, tmp_path: Path) -> None:
    pod = campus.pods["pod-c"]
    w1, w2 = campus.witnesses
    size = pod.signed_size()
    honest = {w.label: w.latest(pod.origin)[1] for w in (w1, w2)}
    for note in honest.values():
        assert note_size(note) == size

    forged = rewrite_history(pod, tmp_path / "pod-c-rewritten")
    # the same size with other entries: a second checkpoint of that size with another root
    assert forged.append(size, "rewritten") == size
    same_size = _refused_by_both(forged, size)
    assert note_root(same_size) != note_root(honest["w1"])
    # and grown beyond it: no consistency proof from the cosigned tree can exist
    grown = forged.append(6, "rewritten-more")
    _refused_by_both(forged, grown)

    for w in (w1, w2):
        status, note = w.latest(pod.origin)  # still the honest history, never the forged one
        assert status == 200
        assert note == honest[w.label]
        code, data = w.forks()  # both refusals kept with the checkpoint they contradict
        assert code == 1, data
        forks = [f for f in data["forks"] if f["origin"] == pod.origin]
        assert [note_size(f["note"]) for f in forks] == [size, grown]
        for f in forks:
            assert f["cosigned"] == honest[w.label]
            assert signers(f["note"]) == [pod.origin]  # signed with the pod's own key

    code, out = run(*forged.ws, "verify")  # alone, the rewritten store looks fine
    assert code == 0, out
    for quorum in ("2", "1"):
        code, out = run(*forged.ws, "verify", "--witness-policy", str(campus.policy(quorum)))
        assert code == 1, out
        assert "not met" in out
    # the honest workspace still meets the policy
    code, out = run(*pod.ws, "verify", "--witness-policy", str(campus.policy("2")))
    assert code == 0, out
