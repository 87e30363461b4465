"""``GET /api/v1/checkpoint`` lists the witnesses' cosignatures served with the newest
checkpoint, and says per line whether the server verified it with its ``[[witness]]`` keys.

The world is real: a central workspace with two mirrored pods (tests/cli/test_log_option.py),
two real ``edgeaudit witness serve`` processes on loopback; ``edgeaudit checkpoint`` gathers
their cosignatures for the central log, and a pod's checkpoint is cosigned over the witness
protocol and kept where ``mirror sync`` keeps it. Lines are checked independently of the
server from the tlog-cosignature spec text (tests/witness/conftest.py). Requests go through
the real ASGI app (fast path) and the framework's route alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from edgeaudit.canonical import signed_note
from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import Ed25519Cosigner, generate
from edgeaudit.serve.app import asgi, create_app
from edgeaudit.serve.cosignatures import FUTURE, UNKNOWN, cosignatures, witness_keys
from edgeaudit.serve.log_tiles import prefix
from edgeaudit.serve.public import CHECKPOINT_TTL, PublicLog
from edgeaudit.serve.setup import make_service
from edgeaudit.store import Store, StoredCheckpoint
from edgeaudit.verify.witnesses import witnessed_path
from edgeaudit.witness.config import load_config, load_key
from edgeaudit.workspace import config as cfg
from tests.cli import GOOD, clean_env
from tests.cli.test_log_option import CENTRAL, NORTH, SOUTH, _Quiet, build_campus
from tests.serve.conftest import POLICIES, Site, settings
from tests.witness.conftest import (
    Pod,
    WitnessProcess,
    body,
    check_cosignature,
    cli,
    start_witness,
    witness_config,
)

W1, W2 = "witness.test/w1", "witness.test/w2"


@dataclass(frozen=True)
class World:
    root: Path
    config: cfg.WorkspaceConfig
    w1: WitnessProcess
    w2: WitnessProcess
    started: float
    fast: TestClient  # the ASGI app uvicorn serves (edge layer, fast paths)
    framework: TestClient  # the framework's routes alone

    def checkpoint(self, origin: str | None = None) -> dict[str, Any]:
        """The JSON of both paths, which must be the same document."""
        query = "" if origin is None else f"?log={quote(origin, safe='')}"
        docs = [c.get(f"/api/v1/checkpoint{query}") for c in (self.fast, self.framework)]
        assert [d.status_code for d in docs] == [200, 200], [d.text for d in docs]
        assert docs[0].json() == docs[1].json()
        doc: dict[str, Any] = docs[0].json()
        return doc


def _tables(witnesses: list[WitnessProcess]) -> str:
    return "".join(
        f'\n[[witness]]\nname = "{w.vkey.split("+")[0]}"\nurl = "{w.url}"\nkey = "{w.vkey}"\n'
        for w in witnesses
    )


def _held(config: cfg.WorkspaceConfig, origin: str) -> StoredCheckpoint:
    with Store.open(config.db_url) as store:
        cp = store.log(origin).latest_checkpoint()
    assert cp is not None
    return cp


def _held_note(config: cfg.WorkspaceConfig, origin: str) -> str:
    return _held(config, origin).note


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cosigned")
    started: list[WitnessProcess] = []
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp)
        build_campus(root, "sqlite", _Quiet())
        central, north = Pod(root / "central"), Pod(root / "north")
        try:
            t0 = time.time()
            w1 = start_witness(witness_config(root / "w1", W1, [central, north]))
            started.append(w1)
            w2 = start_witness(witness_config(root / "w2", W2, [central]))
            started.append(w2)
            toml = central.path / "edgeaudit.toml"
            before = toml.read_text()
            # both witnesses cosign the central log's new checkpoint (`edgeaudit checkpoint`)
            toml.write_text(before + _tables([w1, w2]))
            cli("-w", str(central.path), "append", str(GOOD))
            done = cli("-w", str(central.path), "checkpoint")
            assert [w["cosigned"] for w in done["witnesses"]] == [True, True], done
            # ... but the service is configured with w1's key only
            toml.write_text(before + _tables([w1]))
            config = cfg.load(central.path)
            # the north pod's checkpoint, cosigned by w1, kept as `mirror sync` keeps it
            north_cp = _held(config, NORTH)
            status, _, line = w1.post(body(0, [], north_cp.note.encode()))
            assert status == 200, line
            cosigned = north_cp.note.encode() + line
            MirrorFiles(config.root, NORTH).write_witnessed(north_cp.tree_size, cosigned)
            # w1's line for north spliced onto the south pod's checkpoint: it cannot verify
            south_cp = _held(config, SOUTH)
            spliced = south_cp.note.encode() + line
            MirrorFiles(config.root, SOUTH).write_witnessed(south_cp.tree_size, spliced)

            service = make_service(
                config, settings(Site(root, central.path, config), policies=POLICIES)
            )
            try:
                with (
                    TestClient(asgi(service), raise_server_exceptions=False) as fast,
                    TestClient(create_app(service), raise_server_exceptions=False) as framework,
                ):
                    yield World(root, config, w1, w2, t0, fast, framework)
            finally:
                service.close()
        finally:
            for w in started:
                w.stop()


def test_own_checkpoint_lists_both_witnesses_and_verifies_only_the_configured_one(
    world: World,
) -> None:
    doc = world.checkpoint()
    assert doc["origin"] == CENTRAL
    assert doc["note"] == _held_note(world.config, CENTRAL)  # the note as the log signed it
    cos = {c["name"]: c for c in doc["cosignatures"]}
    assert sorted(cos) == [W1, W2]
    served = world.fast.get("/checkpoint").text  # the tlog-tiles note with its cosignatures
    assert doc["note"] + "".join(c["line"] for c in doc["cosignatures"]) == served

    one, two = cos[W1], cos[W2]
    assert (one["verified"], one["problem"]) == (True, None)
    assert (two["verified"], two["problem"]) == (False, UNKNOWN)
    for c, w in ((one, world.w1), (two, world.w2)):
        assert c["key_id"] == w.vkey.split("+")[1]
        assert c["line"].startswith(f"\u2014 {c['name']} ")
        assert c["line"].endswith("\n")
        # the timestamp is the one the line carries, checked from the spec text
        assert c["timestamp"] == check_cosignature(c["line"], w.vkey, served.encode(), time.time())
        assert world.started - 1 <= c["timestamp"] <= time.time() + 1


def test_a_mirrored_pods_cosignature_is_listed_and_verified(world: World) -> None:
    doc = world.checkpoint(NORTH)
    assert doc["origin"] == NORTH
    [c] = doc["cosignatures"]
    assert (c["name"], c["key_id"], c["verified"], c["problem"]) == (
        W1,
        world.w1.vkey.split("+")[1],
        True,
        None,
    )
    cosigned = (doc["note"] + c["line"]).encode()
    assert c["timestamp"] == check_cosignature(c["line"], world.w1.vkey, cosigned, time.time())
    assert world.fast.get(f"{prefix(NORTH)}/checkpoint").text == cosigned.decode()


def test_a_cosignature_of_another_checkpoint_is_listed_unverified(world: World) -> None:
    """The line is w1's real cosignature of the north pod's checkpoint, under w1's name and
    key id on the south pod's: the server must not vouch for it."""
    north = world.checkpoint(NORTH)["cosignatures"][0]
    doc = world.checkpoint(SOUTH)
    [c] = doc["cosignatures"]
    assert c["line"] == north["line"]
    assert c["timestamp"] == north["timestamp"]  # read from the line, not vouched for
    assert c["verified"] is False
    assert "does not verify" in c["problem"]


def test_the_route_documents_the_cosignatures(world: World) -> None:
    spec = world.fast.get("/api/v1/openapi.json").json()
    ok = spec["paths"]["/api/v1/checkpoint"]["get"]["responses"]["200"]
    ref = ok["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    schemas = spec["components"]["schemas"]
    assert "cosignatures" in schemas[ref]["properties"]
    item = schemas[ref]["properties"]["cosignatures"]["items"]["$ref"].split("/")[-1]
    want = {"name", "key_id", "timestamp", "line", "verified", "problem"}
    assert set(schemas[item]["properties"]) == want


def _clock(stamp: int) -> Callable[[], int]:
    return lambda: stamp


def test_dates_and_shapes_the_server_refuses_to_vouch_for(world: World) -> None:
    """Real cosignatures by w1's key (read from its witness configuration), dated 0 and an
    hour ahead; a line of a log-signature size; and a copy of another checkpoint."""
    witness = load_config(world.root / "w1" / "witness.toml")
    assert witness.name == W1
    private_key = load_key(witness.key_path)
    keys = witness_keys(world.config.witnesses)
    note = _held_note(world.config, CENTRAL)
    text = note.encode().split(b"\n\n")[0] + b"\n"
    now = time.time()

    def judged(line: str) -> dict[str, Any]:
        served = signed_note(text, [note.split("\n\n", 1)[1], line]).decode()
        [c] = cosignatures(note, served, keys, now)
        return c.to_dict()

    for stamp, verified, problem in (
        (int(now), True, None),
        (0, False, "undated (timestamp 0): no statement about the latest tree"),
        (int(now) + 3600, False, FUTURE),
    ):
        line = Ed25519Cosigner(W1, private_key, _clock(stamp)).signature_line(text)
        c = judged(line)
        assert (c["timestamp"], c["verified"], c["problem"]) == (stamp, verified, problem)

    plain = generate(W1).signature_line(text)  # 64 signature bytes: no timestamp to read
    c = judged(plain)
    assert (c["timestamp"], c["verified"]) == (None, False)
    assert "not a cosignature/v1 line: 64 signature bytes" in c["problem"]

    other = _held_note(world.config, NORTH)
    assert cosignatures(note, other, keys, now) == ()  # not this checkpoint's copy
    assert cosignatures(note, note, keys, now) == ()  # no witness line at all


def test_a_copy_cosigned_again_is_served_within_the_ttl(world: World) -> None:
    """The kept copy changes while serving (a later `edgeaudit checkpoint` run): the list
    follows it within CHECKPOINT_TTL, judged again."""
    cp = _held(world.config, CENTRAL)
    with Store.open(world.config.db_url) as store:
        public = PublicLog(world.config, store.log(CENTRAL))
        assert [c["name"] for c in public.cosignatures(cp)] == [W1, W2]
        path = witnessed_path(world.config.root, cp.tree_size)
        kept = path.read_text()
        try:
            path.write_text("".join(x for x in kept.splitlines(True) if f" {W2} " not in x))
            deadline = time.monotonic() + 10 * CHECKPOINT_TTL
            while len(public.cosignatures(cp)) == 2 and time.monotonic() < deadline:
                time.sleep(CHECKPOINT_TTL / 5)
            [c] = public.cosignatures(cp)
            assert (c["name"], c["verified"]) == (W1, True)
        finally:
            path.write_text(kept)
