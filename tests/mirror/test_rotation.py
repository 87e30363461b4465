"""The mirror follows a pod's log key rotation (ADR 0014) from the ``[[mirror]]`` key, as
``verify`` follows it: a real pod rotated with ``edgeaudit key rotate`` (twice) keeps being
synced, the transitions are held and recorded once in the central log, and ``verify --log``
with the ``[[mirror]]`` key passes. A transition signed by the new key alone, a new key with
no transition, a transition whose root contradicts the tree, and a transition signed by a
revoked key are refused (exit 1) and nothing of the new key's history is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer, generate, sign_transition
from edgeaudit.note.transition import transition_lines
from edgeaudit.serve.public import PublicLog
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Pod, central, mirrored
from tests.mirror.hostile import Answer, HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

ORIGIN = "hostile.example/pod-r"


def _sync(ws: Path, *extra: str) -> tuple[int, dict[str, object]]:
    code, out, _ = run("--workspace", str(ws), "--json", "mirror", "sync", "--rate", "0", *extra)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["exit_code"] == code
    return code, result["mirrors"][0]


def _key_changes(ws: Path) -> list[dict[str, object]]:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        with log.reader() as reader:
            size, _ = reader.head()
            rows = reader.select(["mirror.key_change"], None, None, size)
            return [orjson.loads(body) for _i, body, _leaf in rows]


def test_a_pod_rotated_twice_is_followed(tmp_path: Path, clean_env: None) -> None:
    pod = Pod(tmp_path, "pod-rot").init()
    pod.append(300)
    pod.start()
    try:
        first_key = pod.config.verifier_key
        ws = central(tmp_path)
        token = pod.token()
        import os

        os.environ["ROT_TOKEN"] = token
        try:
            argv = ["mirror", "add", pod.url, "--key", first_key, "--token-env", "ROT_TOKEN"]
            assert run("--workspace", str(ws), *argv)[0] == 0
            assert _sync(ws)[1]["status"] == "synced"
            transitions = []
            for _ in range(2):
                code, out, err = run("--workspace", str(pod.ws), "--json", "key", "rotate")
                assert code == 0, err
                transitions.append(int(json.loads(out)["transition_size"]))
                size = pod.append(257)
                code, r = _sync(ws)
                assert code == 0, r
                assert r["status"] == "synced", r
                assert r["held_size"] == size
            assert pod.config.verifier_key != first_key
            changes = _key_changes(ws)
            assert [c["tree_size"] for c in changes] == transitions
            assert changes[0]["previous_key"] == first_key
            assert changes[1]["next_key"] == pod.config.verifier_key
            # nothing new: up to date, no second record of the same transitions
            assert _sync(ws)[1]["status"] == "up-to-date"
            assert len(_key_changes(ws)) == 2
            held, stored, entries = mirrored(ws, pod.config.origin)
            assert held == stored == size
            assert entries == pod.signed()[1]
            # the central copy verifies from the [[mirror]] key (the first one) on
            code, out, err = run("--workspace", str(ws), "verify", "--log", pod.config.origin)
            assert code == 0, out + err
            # the central service names the key the newest checkpoint verifies with, the
            # [[mirror]] key as the anchor it was followed from
            with Store.open(cfg.load(ws).db_url) as store:
                served = PublicLog(
                    cfg.load(ws), store.log(pod.config.origin), verifier_key=first_key
                )
                keys = served.keys()
                assert keys["verifier_key"] == pod.config.verifier_key != first_key
                assert keys["mirror_key"] == first_key
                assert served.checkpoint()["verifier_key"] == pod.config.verifier_key
            # a second central workspace registers the pod with its first key after the
            # rotations: add and the first sync follow the transitions from it
            other = central(tmp_path / "second")
            assert run("--workspace", str(other), *argv)[0] == 0
            code, r = _sync(other)
            assert (code, r["status"], r["held_size"]) == (0, "synced", size), r
            assert [c["tree_size"] for c in _key_changes(other)] == transitions
        finally:
            os.environ.pop("ROT_TOKEN", None)
    finally:
        pod.stop()


class Rotating:
    """A hostile pod at ``SIZE`` signed by ``old``; :meth:`rotate` serves a larger tree signed
    by ``new`` with a transition at ``at`` made by ``transition``."""

    def __init__(self, ws: Path, pod: HostilePod, log: HostileLog) -> None:
        self.ws, self.pod, self.log = ws, pod, log
        self.old = log.signer
        self.new = generate(ORIGIN)

    def rotate(self, at: int, size: int, transition: bytes | None) -> None:
        notes = [] if transition is None else [transition]
        doc = {"transitions": [{"tree_size": at, "note": n.decode()} for n in notes]}
        body = orjson.dumps(doc)
        newer = HostileLog(self.new, self.log.entries)
        self.pod.serve(newer, size)
        self.pod.hook = lambda p, _h: Answer(200, body) if p == "key-transitions" else None

    def transition(self, at: int, signers: list[Ed25519Signer], root: bytes | None = None) -> bytes:
        """A transition checkpoint at ``at`` (its true root unless ``root``), signed by the old
        and the new key, or (``signers == [new]``) by the new key alone: a forged hand-over."""
        cp = Checkpoint(ORIGIN, at, self.log.root(at) if root is None else root)
        if signers == [self.new]:
            lines = transition_lines(self.old.verifier_key, self.new.verifier_key)
            return self.new.sign_checkpoint(Checkpoint(cp.origin, cp.size, cp.root, lines))
        return sign_transition(self.old, self.new, cp)


@pytest.fixture
def rotating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Rotating]:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    monkeypatch.setenv("ROT_TOKEN", "t0ken")
    log = HostileLog(generate(ORIGIN), event_entries("r", 900))
    pod = HostilePod(log, 300)
    db = getattr(request, "param", "sqlite")
    ws = central(tmp_path, request.getfixturevalue("pg_url") if db == "postgresql" else None)
    argv = ["mirror", "add", pod.url, "--key", log.vkey, "--token-env", "ROT_TOKEN"]
    code, _, err = run("--workspace", str(ws), *argv)
    assert code == 0, err
    code, r = _sync(ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", 300), r
    try:
        yield Rotating(ws, pod, log)
    finally:
        pod.close()


@pytest.mark.parametrize(
    "rotating",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_valid_transition_from_a_hostile_pod_is_followed(rotating: Rotating) -> None:
    t = rotating.transition(400, [rotating.old, rotating.new])
    rotating.rotate(400, 700, t)
    code, r = _sync(rotating.ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", 700), r
    assert [c["tree_size"] for c in _key_changes(rotating.ws)] == [400]
    # the next pass trusts the new key through the transition it holds: no fetch of it
    rotating.pod.serve(HostileLog(rotating.new, rotating.log.entries), 800)
    rotating.pod.requests.clear()
    code, r = _sync(rotating.ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", 800), r
    assert "key-transitions" not in [q.path for q in rotating.pod.requests]
    code, out, err = run("--workspace", str(rotating.ws), "verify", "--log", ORIGIN)
    assert code == 0, out + err


@pytest.mark.parametrize(
    "case",
    ["new key only", "no transition", "root contradicts the tree", "transition beyond"],
)
def test_a_new_key_without_a_valid_transition_is_refused(rotating: Rotating, case: str) -> None:
    r0 = rotating
    if case == "new key only":
        forged = r0.transition(400, [r0.new])
        assert forged.count("\u2014".encode()) == 1  # one signature line: the new key's
        t: bytes | None = forged
    elif case == "no transition":
        t = None
    elif case == "root contradicts the tree":
        t = r0.transition(400, [r0.old, r0.new], root=r0.log.root(399))
    else:
        t = r0.transition(800, [r0.old, r0.new])  # the old key would sign up to 800
    r0.rotate(400 if case != "transition beyond" else 800, 700, t)
    code, r = _sync(r0.ws)
    assert code == 1, r
    assert r["status"] in ("refused", "fork"), r
    held, stored, _ = mirrored(r0.ws, ORIGIN)
    assert (held, stored) == (300, 300)  # nothing of the new key's history
    assert _key_changes(r0.ws) == []
    if case == "root contradicts the tree":
        assert r["status"] == "fork", r  # both keys signed it: the proof is kept
        assert r["fork_proof"], r
    else:
        assert r["status"] == "refused"
        assert "transition" in str(r["message"]), r


def test_a_transition_signed_by_a_revoked_key_is_refused(rotating: Rotating) -> None:
    r0 = rotating
    path = r0.ws / "edgeaudit.toml"
    kid = r0.old.key_id.hex()
    path.write_text(path.read_text() + f'revoked = ["{kid}@350"]\n')
    t = r0.transition(400, [r0.old, r0.new])
    r0.rotate(400, 700, t)
    code, r = _sync(r0.ws)
    assert (code, r["status"]) == (1, "refused"), r
    assert "revoked" in str(r["message"]), r
    assert mirrored(r0.ws, ORIGIN)[:2] == (300, 300)
    # revoked beyond the transition: the hand-over counts
    path.write_text(path.read_text().replace(f"{kid}@350", f"{kid}@400"))
    code, r = _sync(r0.ws)
    assert (code, r["status"], r["held_size"]) == (0, "synced", 700), r
