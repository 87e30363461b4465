"""One campus per session, all real parts on loopback.

* three pods, ``campus.example.org/pod-a|b|c``: SQLite workspaces with evidence appended
  through ``edgeaudit append`` and checkpoints signed by ``edgeaudit checkpoint``;
* two witnesses (``edgeaudit witness serve``, each with its own configuration, key and state
  directory) that know the three pods' log keys; every pod's edgeaudit.toml lists both, each
  reached over a link of that pod (:mod:`tests.campus.proxy`) a test can cut;
* ``served``: an ``edgeaudit serve`` process per pod, reached over its own link;
* ``central_pg``: the central workspace on a fresh PostgreSQL database, dropped afterwards
  (skips without a server, fails under CI=true, as the other PostgreSQL tests);
* ``mirrored``: the central workspace has added the three pods (``edgeaudit mirror add`` with an
  auditor token of each pod) and synced them once.

The tests share the campus and change it (pod-b goes offline, pod-c's history is rewritten
beside it), and each leaves it as the others expect (links up, the honest services answering,
a rewritten history in a workspace of its own), so they run in any order.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from edgeaudit.workspace import config as cfg
from tests.campus.parts import REPO, Pod, Served, Witness, make_pod, ok_json, run_json, serving
from tests.conftest import _admin_connect

PODS = ("pod-a", "pod-b", "pod-c")
FIRST_EVENTS = 40


@dataclass
class Campus:
    root: Path
    pods: dict[str, Pod]
    witnesses: list[Witness]

    def policy(self, quorum: str = "2") -> Path:
        """A C2SP witness policy file: both witnesses listed, ``quorum`` of them needed."""
        path = self.root / f"witnesses-{quorum}.policy"
        text = "".join(f"witness {w.label} {w.vkey}\n" for w in self.witnesses)
        path.write_text(text + f"quorum {quorum}\n")
        return path


@pytest.fixture(autouse=True)
def _no_workspace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)


@pytest.fixture(scope="session")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campus]:
    root = tmp_path_factory.mktemp("campus")
    witnesses: list[Witness] = []
    pods: dict[str, Pod] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        try:
            for name in PODS:
                pod = make_pod(root, name)
                shutil.copytree(REPO / "policies", pod.path / "policies")  # serve needs them
                pod.append(FIRST_EVENTS)
                pods[name] = pod
            witnesses.extend(Witness(root, label, list(pods.values())) for label in ("w1", "w2"))
            for w in witnesses:
                w.start()
            deadline = time.monotonic() + 30
            for w in witnesses:
                w.wait_ready(deadline)
            for pod in pods.values():
                pod.list_witnesses(witnesses)
                code, data = pod.checkpoint()
                assert code == 0, data
                assert [x["cosigned"] for x in data["witnesses"]] == [True, True], data
            yield Campus(root, pods, witnesses)
        finally:
            for w in witnesses:
                w.stop()
            for pod in pods.values():
                for link in pod.links.values():
                    link.close()


@pytest.fixture(scope="session")
def served(campus: Campus) -> Iterator[dict[str, Served]]:
    """Each pod's ``edgeaudit serve`` (started together, stopped at the end)."""
    with serving(campus.pods, 60) as out:
        yield out


@pytest.fixture(scope="session")
def central_pg(campus: Campus, pg_server: str) -> Iterator[Path]:
    """The central workspace, on a PostgreSQL database of its own (dropped at the end)."""
    name = f"edgeaudit_campus_{uuid.uuid4().hex[:10]}"
    conn = _admin_connect()
    conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
        ws = campus.root / "central"
        origin = "campus.example.org/central"
        ok_json("-w", str(ws), "init", "--site", "central", "--origin", origin, "--db", url)
        yield ws
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


@dataclass
class Mirror:
    """The central workspace mirroring the three pods, each over its serve's link."""

    ws: Path
    served: dict[str, Served]

    @property
    def args(self) -> tuple[str, str]:
        return ("-w", str(self.ws))

    def sync(self, *argv: str) -> tuple[int, dict[str, Any]]:
        """``mirror sync`` (no rate limit); exit code and JSON, each pod's result by name."""
        code, data = run_json(*self.args, "mirror", "sync", *argv, "--rate", "0")
        results = {r["origin"].rsplit("/", 1)[1]: r for r in data.get("mirrors", [])}
        return code, {"exit_code": data.get("exit_code"), "raw": data, **results}


@pytest.fixture(scope="session")
def mirrored(campus: Campus, central_pg: Path, served: dict[str, Served]) -> Iterator[Mirror]:
    """The central PostgreSQL workspace has added the three pods and synced them once."""
    mirror = Mirror(central_pg, served)
    with pytest.MonkeyPatch.context() as mp:
        for name, s in served.items():
            var = f"CAMPUS_TOKEN_{name.upper().replace('-', '_')}"
            mp.setenv(var, s.token("auditor"))
            key = campus.pods[name].vkey()
            ok_json(*mirror.args, "mirror", "add", s.url, "--key", key, "--token-env", var)
        code, data = mirror.sync()
        assert code == 0, data
        for name, pod in campus.pods.items():
            assert data[name]["status"] == "synced", data
            assert data[name]["held_size"] == pod.signed_size()
        yield mirror
