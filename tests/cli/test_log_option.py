"""``--log ORIGIN``: a central store holding its own log and two mirrored pod logs.

The pods are real workspaces with their own SQLite stores and keys; their logs are copied into
the central store (SQLite or PostgreSQL) through the store's mirror API (``Store.mirror``:
entries verbatim at their indices, the pods' signed checkpoints held), and the central
``edgeaudit.toml`` names them in ``[[mirror]]`` tables, as ``mirror add`` and ``mirror sync``
leave it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import append_mirror, make_source
from tests.cli import GOOD, GOOD_MORE, Cli, clean_env, init_args
from tests.conftest import PG_URL, _admin_connect

CENTRAL = "campus.example.net/central"
NORTH = "pods.example.net/north"
SOUTH = "pods.example.net/south"
EAST = "pods.example.net/east"  # never mirrored


def pod_url(origin: str) -> str:
    return f"http://127.0.0.1:9/{origin.rsplit('/', 1)[-1]}"


def make_pod(capsys: pytest.CaptureFixture[str], root: Path, origin: str, *files: Path) -> Cli:
    """A pod workspace on its own SQLite store: each file appended, then a checkpoint."""
    pod = Cli(capsys, root)
    pod.ok("init", "--site", origin.rsplit("/", 1)[-1], "--origin", origin)
    for f in files:
        pod.ok("append", str(f))
        pod.ok("checkpoint")
    return pod


def mirror_into(central: cfg.WorkspaceConfig, pod: cfg.WorkspaceConfig) -> None:
    """Copy the pod's log into the central store (what ``mirror sync`` stores: every entry
    verbatim, every signed checkpoint) and name it in a ``[[mirror]]`` table once."""
    with Store.open(pod.db_url) as src, src.log(pod.origin).reader() as reader:
        bodies = [bytes(b) for _, b, _, _ in reader.iter_entries()]
        checkpoints = reader.checkpoints()
    with Store.open(central.db_url) as dst:
        mirrored = dst.mirror(pod.origin, create=True)
        held = mirrored.size()
        mirrored.extend(held, bodies[held:])
        for cp in checkpoints:
            mirrored.hold_checkpoint(cp.tree_size, cp.root_hash, cp.note)
    from edgeaudit.workspace.mirrors import load_mirrors

    if all(m.origin != pod.origin for m in load_mirrors(central)):
        append_mirror(central, make_source(pod_url(pod.origin), pod.verifier_key, None, "test"))


def log_state(db_url: str, origin: str) -> tuple[int, list[str]]:
    """(size, every checkpoint note) of one log, read directly."""
    with Store.open(db_url) as store:
        log = store.log(origin)
        return log.head()[0], [c.note for c in log.checkpoints()]


def workspace_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.suffix not in (".db", ".db-wal", ".db-shm")
        and "evidence" not in p.parts
    }


@dataclass
class Campus:
    central: Cli
    pods: dict[str, Cli]

    @property
    def config(self) -> cfg.WorkspaceConfig:
        assert self.central.root is not None
        return cfg.load(self.central.root)

    def key(self, origin: str) -> str:
        pod = self.pods[origin]
        assert pod.root is not None
        return cfg.load(pod.root).verifier_key

    def state(self) -> dict[str, Any]:
        return {o: log_state(self.config.db_url, o) for o in (CENTRAL, NORTH, SOUTH)}


def build_campus(root: Path, db_url: str, capsys: Any = None) -> Campus:
    """The central workspace (its own log of 3 entries, checkpoint 3) on ``db_url`` and two pods
    on SQLite, north (checkpoints 6 and 9) and south (checkpoint 3), mirrored into it."""
    with contextlib.redirect_stdout(io.StringIO()):
        return _build_campus(root, db_url, capsys)


def _build_campus(root: Path, db_url: str, capsys: Any) -> Campus:
    central = Cli(capsys, root / "central")
    central.ok("init", "--site", "campus", "--origin", CENTRAL, *init_args(db_url))
    central.ok("append", str(GOOD_MORE))
    central.ok("checkpoint")
    pods = {
        NORTH: make_pod(capsys, root / "north", NORTH, GOOD, GOOD_MORE),
        SOUTH: make_pod(capsys, root / "south", SOUTH, GOOD_MORE),
    }
    c = Campus(central, pods)
    for pod in pods.values():
        assert pod.root is not None
        mirror_into(c.config, cfg.load(pod.root))
    return c


class _Quiet:
    """A stand-in for capsys while a module-scoped fixture runs the CLI (output discarded)."""

    def readouterr(self) -> tuple[str, str]:
        return "", ""


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def campus_root(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, str]]:
    """One campus per backend for the module (the tests only read it, or compare before and
    after what they do)."""
    root = tmp_path_factory.mktemp("campus")
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp)
        if request.param == "sqlite":
            build_campus(root, "sqlite", _Quiet())
            yield root, "sqlite"
            return
        request.getfixturevalue("pg_server")
        name = f"edgeaudit_t_{uuid.uuid4().hex[:12]}"
        admin: Any = _admin_connect()
        admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        try:
            build_campus(root, url, _Quiet())
            yield root, url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


@pytest.fixture
def campus(
    campus_root: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Campus:
    clean_env(monkeypatch)
    root, _ = campus_root
    return Campus(
        Cli(capsys, root / "central"),
        {NORTH: Cli(capsys, root / "north"), SOUTH: Cli(capsys, root / "south")},
    )


def test_read_commands_per_origin_with_the_pods_key(campus: Campus) -> None:
    c = campus.central
    # north: 6 + 3 entries, checkpoints 6 and 9; south: 3 entries, checkpoint 3
    out = c.ok("verify", "--log", NORTH).out
    assert out.startswith("OK: 9 entries")
    assert "2 signed checkpoint(s) verified" in out
    out = c.ok("--log", SOUTH, "verify").out  # the global form, before the command
    assert out.startswith("OK: 3 entries")
    assert c.ok("verify", "--log", SOUTH, "--key", campus.key(SOUTH)).out.startswith("OK: 3")
    own_size = log_state(campus.config.db_url, CENTRAL)[0]
    assert c.ok("verify").out.startswith(f"OK: {own_size} entries")  # the central's own log

    listed = c.ok("checkpoint", "list", "--log", NORTH, "--json").json()["checkpoints"]
    assert [cp["tree_size"] for cp in listed] == [6, 9]
    assert listed[-1]["note"].startswith(f"{NORTH}\n9\n")
    shown = c.ok("checkpoint", "show", "6", "--log", NORTH, "--json").json()
    assert shown["note"] == listed[0]["note"]
    assert c.ok("checkpoint", "list", "--log", CENTRAL).out.startswith("3\t")  # its first

    proof = c.ok("proof", "inclusion", "7", "--log", NORTH, "--json").json()
    assert proof["tree_size"] == 9
    assert proof["checkpoint"] == listed[-1]["note"]
    # the pod's exact bytes at that index, as the pod itself proves them
    pod = campus.pods[NORTH]
    assert pod.ok("proof", "inclusion", "7", "--json").json()["entry"] == proof["entry"]
    assert b'"kind"' in base64.b64decode(proof["entry"])
    cons = c.ok("proof", "consistency", "6", "9", "--log", NORTH, "--json").json()
    assert cons["old_checkpoint"] == listed[0]["note"]

    assert c.ok("key", "show", "--log", SOUTH).out.strip() == campus.key(SOUTH)
    assert c.ok("quarantine", "list", "--log", SOUTH, "--json").json()["total"] == 0

    status = c.ok("status", "--json").json()
    assert status["origin"] == CENTRAL
    assert status["role"] == "own"
    assert {
        (x["origin"], x["role"], x["entries"], x["latest_checkpoint"]) for x in status["logs"]
    } == {
        (CENTRAL, "own", own_size, own_size),
        (NORTH, "mirror", 9, 9),
        (SOUTH, "mirror", 3, 3),
    }
    assert {x["url"] for x in status["logs"] if x["role"] == "mirror"} == {
        pod_url(NORTH),
        pod_url(SOUTH),
    }
    north = c.ok("status", "--log", NORTH, "--json").json()
    assert (north["origin"], north["role"], north["entries"]) == (NORTH, "mirror", 9)
    text = c.ok("status", "--log", NORTH).out
    assert f"a mirror of the pod {NORTH} at {pod_url(NORTH)}" in text
    assert f"{SOUTH}" in text
    assert "mirror of http://127.0.0.1:9/south" in text


def test_a_wrong_pods_key_fails(campus: Campus) -> None:
    c = campus.central
    r = c("verify", "--log", NORTH, "--key", campus.key(SOUTH))
    assert r.code == 1, r.out + r.err
    assert r.out.startswith("FAILED")
    assert "no signature from a trusted key" in r.out
    r = c("verify", "--log", NORTH, "--key", campus.config.verifier_key)  # the central's own
    assert r.code == 1, r.out + r.err
    r = c("proof", "inclusion", "2", "--log", SOUTH, "--key", campus.key(NORTH))
    assert r.code == 1, r.out + r.err
    r = c("proof", "consistency", "6", "9", "--log", NORTH, "--key", campus.key(SOUTH))
    assert r.code == 1, r.out + r.err
    # the mirror's key is not the central's: the central log fails with a pod's key
    assert c("verify", "--key", campus.key(NORTH)).code == 1


WRITES = (
    ["append", str(GOOD)],
    ["checkpoint"],
    ["checkpoint", "sign"],
    ["key", "rotate"],
    ["collect", "syslog", str(GOOD)],
    ["probe", "run", "--plan", "fintech-isolation"],
    ["evaluate", "--quarter", "2026Q4"],
)


def test_writes_to_a_mirrored_log_are_refused(campus: Campus) -> None:
    assert campus.central.root is not None
    before, files = campus.state(), workspace_files(campus.central.root)
    for argv in WRITES:
        r = campus.central(*argv, "--log", NORTH)
        assert r.code == 2, (argv, r.out + r.err)
        assert f"log {NORTH} is a mirror of the pod {NORTH} at {pod_url(NORTH)}" in r.err
        assert "written only by `edgeaudit mirror sync`" in r.err
        assert "nothing was written" in r.err
    assert campus.state() == before
    assert workspace_files(campus.central.root) == files


def test_unknown_origin_names_the_logs_held(campus: Campus) -> None:
    c = campus.central
    before = campus.state()
    for argv in (
        ["verify"],
        ["proof", "inclusion", "0"],
        ["checkpoint", "list"],
        ["status"],
        ["quarantine", "list"],
        ["append", str(GOOD)],
        ["pack", "build", "--quarter", "2026Q4", "--out", "never"],
    ):
        r = c(*argv, "--log", EAST, "--json")
        assert r.code == 2, (argv, r.out, r.err)
        message = r.json()["error"]["message"]
        assert f"holds no log '{EAST}'" in message, (argv, message)
        for origin, role in ((CENTRAL, "own"), (NORTH, "mirror"), (SOUTH, "mirror")):
            assert f"{origin} ({role})" in message, (argv, message)
    assert not (campus.central.root / "never").exists()  # type: ignore[operator]
    assert campus.state() == before


def test_the_own_origin_by_name_writes_and_log_is_refused_where_it_means_nothing(
    campus: Campus,
) -> None:
    c = campus.central
    before = campus.state()
    size = before[CENTRAL][0]
    appended = c.ok("append", str(GOOD), "--log", CENTRAL, "--json").json()
    assert appended["tree_size"] == size + appended["appended"]
    signed = c.ok("checkpoint", "--log", CENTRAL, "--json").json()
    assert signed["tree_size"] == appended["tree_size"]
    after = campus.state()
    assert after[CENTRAL][0] == appended["tree_size"]
    assert (after[NORTH], after[SOUTH]) == (before[NORTH], before[SOUTH])
    for argv in (["--log", NORTH, "init"], ["--log", NORTH, "db", "current"]):
        r = c(*argv)
        assert r.code == 2, r.err
        assert "does not take --log" in r.err
    r = c("verify", "some-pack.zip", "--log", NORTH)  # a pack names its own log
    assert r.code == 2
    assert "verify PACK does not take --log" in r.err
    r = c("pack", "key", "--log", NORTH)
    assert r.code == 2
    assert "--log" in r.err
