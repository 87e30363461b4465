"""Issue 18, item 6: a pod cut off from its witnesses keeps appending and signing; when the
links come back, each witness cosigns the newest checkpoint after one consistency proof from
the size it last cosigned, and a verifier's witness policy is met again."""

from __future__ import annotations

import base64
import json
import time

from tests.campus.conftest import Campus
from tests.campus.parts import note_root, note_size, run, signers


def test_an_offline_pod_keeps_signing_and_is_cosigned_when_it_reconnects(campus: Campus) -> None:
    pod = campus.pods["pod-b"]
    w1, w2 = campus.witnesses
    both, one = campus.policy("2"), campus.policy("1")
    start = pod.signed_size()
    for w in (w1, w2):  # both cosigned pod-b's latest checkpoint (the campus fixture's)
        status, note = w.latest(pod.origin)
        assert status == 200
        assert note_size(note) == start
    code, out = run(*pod.ws, "verify", "--witness-policy", str(both))
    assert code == 0, out

    # The WAN link goes. w1's link refuses connections. w2's link still carries requests but
    # loses w2's answer to the cosignature request: w2 cosigns size s1, the pod never learns it.
    pod.links["w1"].down()
    pod.links["w2"].lose_answers(after=1)  # the 409 comes back, the cosignature does not
    s1 = pod.append(7, "offline-1")
    code, data = pod.checkpoint()
    assert code == 0, data  # checkpoint succeeds without witnesses (README: exit 0)
    assert data["tree_size"] == s1
    outcome = {w["name"]: w for w in data["witnesses"]}
    assert outcome["w1"]["cosigned"] is False
    assert outcome["w2"]["cosigned"] is False
    assert pod.links["w1"].url.removeprefix("http://") in outcome["w1"]["error"]
    assert "Connection" in outcome["w1"]["error"]  # refused
    assert signers(data["note"]) == [pod.origin]  # the log's own signature only
    assert note_size(w2.latest(pod.origin)[1]) == s1  # w2 did cosign s1
    assert note_size(w1.latest(pod.origin)[1]) == start

    # Both links are now down: w1 refuses, w2 swallows requests (a timeout of 5 s ends it).
    pod.links["w2"].blackhole()
    s2 = pod.append(5, "offline-2")
    began = time.monotonic()
    code, out = run(*pod.ws, "checkpoint")
    took = time.monotonic() - began
    assert code == 0, out
    assert f"\n{s2}\n" in out
    offline = json.loads(run(*pod.ws, "--json", "checkpoint", "show")[1])
    assert offline["tree_size"] == s2
    assert "cosigned by 0 of 2 witness(es)" in out
    assert "w1: no cosignature" in out
    assert "w2: no cosignature" in out
    assert "timed out" in out
    assert took < 30, took  # the configured timeout (5 s), not a hang
    # the verifier's policy (2 of 2, or even 1 of 2) fails for the newest checkpoint
    for policy in (both, one):
        code, out = run(*pod.ws, "verify", "--witness-policy", str(policy))
        assert code == 1, out
        assert "not met" in out
        assert "cosigned by: none" in out
    code, out = run(*pod.ws, "verify")  # the log itself is intact
    assert code == 0, out

    # The links come back.
    for link in pod.links.values():
        link.down()  # drops the connection w2's blackhole still holds
        link.up()
        link.clear()
    code, data = pod.checkpoint()  # nothing new: the newest checkpoint, signed offline
    assert code == 0, data
    assert data["tree_size"] == s2
    assert data["root_hash"] == offline["root_hash"]
    assert [(w["name"], w["cosigned"], w["error"]) for w in data["witnesses"]] == [
        ("w1", True, None),
        ("w2", True, None),
    ]
    assert sorted(signers(data["note"])) == sorted(
        [pod.origin, f"{w1.label}.witness.example.net", f"{w2.label}.witness.example.net"]
    )

    # Each witness got ONE consistency proof, from the size it last cosigned (w1: start,
    # w2: s1), to the newest size; any other request is a proof-less probe at `old 0` (ADR
    # 0015: the pod learns each witness's size from its 409). Read from what crossed each
    # link, not from the pod's code.
    for name, last in (("w1", start), ("w2", s1)):
        reqs = pod.links[name].requests()
        assert {(r.method, r.path) for r in reqs} == {("POST", "/add-checkpoint")}, reqs
        heads = [r.body.split(b"\n\n", 1)[0].split(b"\n") for r in reqs]
        with_proof = [h for h in heads if len(h) > 1]
        assert len(with_proof) == 1, heads
        assert with_proof[0][0] == f"old {last}".encode()
        sent = [base64.b64decode(line) for line in with_proof[0][1:]]
        assert sent == pod.proof(last, s2)
        assert all(h == [b"old 0"] for h in heads if len(h) == 1), heads
        assert len(reqs) <= 2
        for r in reqs:  # the very note signed offline
            assert r.body.split(b"\n\n", 1)[1] == offline["note"].encode()
    # and the witnesses' state: both now hold the newest checkpoint, with the pod's root
    for w in (w1, w2):
        status, note = w.latest(pod.origin)
        assert status == 200
        assert note_size(note) == s2
        assert note_root(note) == note_root(data["note"])
        assert f"{w.label}.witness.example.net" in signers(note)

    for policy in (both, one):
        code, out = run(*pod.ws, "verify", "--witness-policy", str(policy))
        assert code == 0, out
        assert "met" in out
    # the earlier checkpoint signed offline stays as the log signed it
    code, out = run(*pod.ws, "checkpoint", "show", str(s1))
    assert code == 0, out
    assert "witness.example.net" not in out
