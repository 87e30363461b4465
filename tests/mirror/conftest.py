"""Real parts for mirror tests: pod workspaces served by real ``edgeaudit serve`` processes on
loopback, auditor tokens issued with ``edgeaudit token``, and a small TCP proxy that can cut a
connection after N bytes or replace bytes in what the pod sends."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.events import prepare
from edgeaudit.store import LogNotFoundError, Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.signing import sign_checkpoint
from tests.pack.helpers import run

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def events(tag: str, first: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "time": f"2026-11-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
            f"{i % 60:02d}Z",
            "kind": "auth.logon",
            "tenant": "fintech-a",
            "user": f"u{i % 97}",
            "pod": tag,
            "n": i,
        }
        for i in range(first, first + count)
    ]


@dataclass
class Pod:
    """A pod workspace with a SQLite store, served by a real ``edgeaudit serve`` on ``port``."""

    root: Path
    name: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    appended: int = 0

    @property
    def ws(self) -> Path:
        return self.root / self.name

    @property
    def config(self) -> cfg.WorkspaceConfig:
        return cfg.load(self.ws)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def init(self) -> Pod:
        assert run("--workspace", str(self.ws), "init", "--site", self.name)[0] == 0
        shutil.copytree(POLICIES, self.ws / "policies")
        return self

    def append(self, count: int, tag: str | None = None, sign: bool = True) -> int:
        """Append ``count`` events and sign a checkpoint; the signed size."""
        config = self.config
        with Store.open(config.db_url) as store:
            log = store.log(config.origin)
            done = 0
            while done < count:
                step = min(count - done, 10_000)
                batch = events(tag or self.name, self.appended + done, step)
                log.append([prepare(e) for e in batch])
                done += step
            self.appended += count
            size = sign_checkpoint(config, log).tree_size if sign else log.size
        if sign and self.proc is not None:
            self.published(size)
        return size

    def published(self, size: int) -> None:
        """Wait until the running server publishes the checkpoint of ``size`` (it re-reads
        the signed checkpoints every half second; a loaded machine may take seconds more)."""
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(f"{self.url}/checkpoint", timeout=5) as r:
                if int(r.read().split(b"\n")[1]) == size:
                    return
            assert time.monotonic() < deadline, f"{self.name}: size {size} not published"
            time.sleep(0.1)

    def signed(self) -> tuple[int, list[bytes]]:
        """The latest signed size and the entries up to it."""
        config = self.config
        with Store.open(config.db_url) as store:
            log = store.log(config.origin)
            cp = log.latest_checkpoint()
            assert cp is not None
            with log.reader() as reader:
                return cp.tree_size, reader.entry_bodies(0, cp.tree_size)

    def rewritten(self, name: str, count: int) -> Pod:
        """Another server of this pod's log rewritten with its own key: the workspace copied
        (key, tokens) without its store or the signer's memory of what it signed, a new store
        with other entries, signed, served. The new pod."""
        from edgeaudit.workspace.state import SEEN_NAME

        config = self.config
        skip = {"evidence", config.state_file.name, SEEN_NAME}
        other = Pod(self.root, name)
        shutil.copytree(self.ws, other.ws, ignore=lambda _d, names: skip & set(names))
        (other.ws / "evidence").mkdir()
        with Store.open(other.config.db_url, upgrade=True) as store:
            store.log(config.origin, create=True)
        other.append(count, tag=f"{self.name}-rewritten")
        other.start()
        return other

    def token(self) -> str:
        """An auditor token of the pod, issued with ``edgeaudit token issue``."""
        code, out, err = run("--workspace", str(self.ws), "token", "issue", "--role", "auditor")
        assert code == 0, err
        return out.strip().splitlines()[-1].split()[-1]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
        argv = ["--workspace", str(self.ws), "serve", "--port", str(self.port), "--no-pdf"]
        argv += ["--rate", "10000", "--burst", "10000", "--no-access-log"]
        errors = (self.root / f"{self.name}.serve.err").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeaudit.cli.main", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        errors.close()
        deadline = time.monotonic() + 90  # the server's start-up, on a loaded machine
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/checkpoint", timeout=2):
                    return
            except OSError:
                assert self.proc.poll() is None, (self.root / f"{self.name}.serve.err").read_text()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@dataclass(frozen=True)
class Campus:
    """Two pods served for the whole session (tests read their current signed state)."""

    one: Pod
    two: Pod


@pytest.fixture(scope="session")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campus]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("mirror-pods")
        one, two = Pod(root, "pod-one").init(), Pod(root, "pod-two").init()
        one.append(1500)
        two.append(300)
    started: list[Pod] = []
    try:
        for pod in (one, two):
            pod.start()
            started.append(pod)
        yield Campus(one, two)
    finally:
        for pod in started:
            pod.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)


def central(root: Path, db: str | None = None) -> Path:
    ws = root / "central"
    argv = ["--workspace", str(ws), "init", "--site", "central"]
    code, _, err = run(*argv, *(["--db", db] if db else []))
    assert code == 0, err
    return ws


def mirrored(ws: Path, origin: str) -> tuple[int, int, list[bytes]]:
    """(held checkpoint size, stored size, stored entries) of the central mirror of origin."""
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        try:
            mlog = store.mirror(origin)
        except LogNotFoundError:
            return 0, 0, []
        held = mlog.held()
        with mlog.reader() as reader:
            size = mlog.size()
            return (held.tree_size if held else 0), size, reader.entry_bodies(0, size)


class Proxy:
    """A TCP proxy on loopback to ``port``: ``cut_after`` bytes from the pod then both sides
    are closed (None: never); ``replace``: (old, new) byte pairs of equal length replaced in
    what the pod sends; ``plain``: ask the pod for no gzip (so bytes can be matched)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.cut_after: int | None = None
        self.replace: list[tuple[bytes, bytes]] = []
        self.plain = False
        self.sent = 0
        self.cuts = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop = True
        self._server.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        tail = b""
        host = f"Host: 127.0.0.1:{self.port}".encode()
        keep = max((len(old) for old, _ in self.replace), default=1) - 1
        try:
            while True:
                ready, _, _ = select.select([client, upstream], [], [], 0.05)
                if not ready and tail:  # nothing more for now: the held-back tail goes out
                    client.sendall(tail)
                    tail = b""
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:  # the pod answers only its own Host
                        data = data.replace(host, f"Host: 127.0.0.1:{self.target}".encode())
                        if self.plain:
                            data = data.replace(b"Accept-Encoding: gzip", b"Accept-Encoding: none")
                        upstream.sendall(data)
                        continue
                    data = tail + data
                    for old, new in self.replace:
                        data = data.replace(old, new)
                    data, tail = (data[:-keep], data[-keep:]) if keep else (data, b"")
                    if self.cut_after is not None and self.sent + len(data) >= self.cut_after:
                        client.sendall(data[: self.cut_after - self.sent])
                        self.sent = self.cut_after
                        self.cuts += 1
                        return
                    self.sent += len(data)
                    client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


@pytest.fixture
def proxies() -> Iterator[list[Proxy]]:
    made: list[Proxy] = []
    yield made
    for p in made:
        p.close()
