"""The campus's real parts: pod workspaces driven through the CLI, ``edgeaudit serve`` and
``edgeaudit witness serve`` processes on loopback, each reached over a :class:`Link`."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from tests.campus.proxy import Link, free_port

REPO = Path(__file__).resolve().parents[2]
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}


def run(*argv: str) -> tuple[int, str]:
    """The edgeaudit CLI in this process: (exit code, stdout and stderr)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(argv))
    return code, out.getvalue()


def run_json(*argv: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--json", *argv])
    text = out.getvalue().strip()
    return code, json.loads(text) if text else {}


def ok_json(*argv: str) -> dict[str, Any]:
    code, data = run_json(*argv)
    assert code == 0, (argv, data)
    return data


@dataclass
class Pod:
    """A pod's workspace (SQLite store), its log key and the links to the witnesses."""

    name: str
    origin: str
    path: Path
    counter: int = 0
    links: dict[str, Link] = field(default_factory=dict)  # witness name -> this pod's link

    @property
    def ws(self) -> tuple[str, str]:
        return ("-w", str(self.path))

    def append(self, n: int, tag: str = "") -> int:
        """Append ``n`` new events (a small JSONL file through ``edgeaudit append``); the size."""
        events = self.path / "incoming.jsonl"
        with events.open("w") as f:
            for _ in range(n):
                self.counter += 1
                i = self.counter
                event = {
                    "time": f"2026-11-02T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                    "kind": "auth.logon",
                    "tenant": ("fintech-a", "media-b", "ai-c")[i % 3],
                    "user": f"op{i % 7}",
                    "host": f"{self.name}-h{i % 4}",
                    "n": i,
                    "tag": tag,
                }
                f.write(json.dumps(event) + "\n")
        code, out = run(*self.ws, "append", str(events))
        assert code == 0, out
        return self.size()

    def size(self) -> int:
        return int(ok_json(*self.ws, "status")["entries"])

    def signed_size(self) -> int:
        return int(ok_json(*self.ws, "checkpoint", "show")["tree_size"])

    def checkpoint(self) -> tuple[int, dict[str, Any]]:
        return run_json(*self.ws, "checkpoint")

    def vkey(self) -> str:
        return str(ok_json(*self.ws, "key", "show")["verifier_key"])

    def proof(self, old: int, new: int) -> list[bytes]:
        data = ok_json(*self.ws, "proof", "consistency", str(old), str(new))
        return [bytes.fromhex(h) for h in data["proof"]]

    def list_witnesses(self, witnesses: list[Witness], timeout: float = 5) -> None:
        """``[[witness]]`` tables in edgeaudit.toml, each reached over a link of this pod (5 s:
        a witness fsyncs its state before it answers, which can take seconds on a loaded
        machine; 2 s could lose a cosignature the tests expect)."""
        text = ""
        for w in witnesses:
            link = self.links.setdefault(w.label, Link(w.port))
            table = {"name": w.label, "url": link.url, "key": w.vkey, "timeout": timeout}
            text += "\n[[witness]]\n" + "".join(
                f"{k} = {json.dumps(v)}\n" for k, v in table.items()
            )
        with (self.path / "edgeaudit.toml").open("a") as f:
            f.write(text)


def make_pod(root: Path, name: str) -> Pod:
    origin = f"campus.example.org/{name}"
    pod = Pod(name, origin, root / name)
    ok_json(*pod.ws, "init", "--site", name, "--origin", origin)
    return pod


@contextlib.contextmanager
def serving(pods: Mapping[str, Pod], wait: float) -> Iterator[dict[str, Served]]:
    """Each pod's ``edgeaudit serve``, started together and answering ``/checkpoint`` within
    ``wait`` seconds; stopped (its link closed) at the end."""
    out = {name: Served(pod) for name, pod in pods.items()}
    try:
        for s in out.values():
            s.start()
        deadline = time.monotonic() + wait
        for s in out.values():
            s.wait_for(f"{s.url}/checkpoint", deadline)
        yield out
    finally:
        for s in out.values():
            s.stop()
            s.link.close()


@dataclass(frozen=True)
class ServedPods:
    """Pods that signed their logs, each served by ``edgeaudit serve``, the auditor token of
    each in ``$<prefix>_<NAME>`` (:meth:`var`)."""

    root: Path
    pods: dict[str, Pod]
    served: dict[str, Served]
    prefix: str

    def var(self, name: str) -> str:
        return f"{self.prefix}_{name.upper().replace('-', '_')}"

    def central(self, name: str, *pods: str, sync: bool = True) -> Path:
        """A central workspace ``root / name`` (SQLite) that mirrors ``pods``, added and
        (unless not ``sync``) synced once, each then held at the size the pod signed."""
        ws = self.root / name
        ok_json("-w", str(ws), "init", "--site", "central")
        for pod in pods:
            s = self.served[pod]
            ok_json("-w", str(ws), "mirror", "add", s.url, "--key", self.pods[pod].vkey(),
                    "--token-env", self.var(pod))  # fmt: skip
        if sync:
            synced = ok_json("-w", str(ws), "mirror", "sync", "--rate", "0")["mirrors"]
            held = {r["origin"]: r["held_size"] for r in synced}
            for pod in pods:
                assert held[self.pods[pod].origin] == self.pods[pod].signed_size()
        return ws


@contextlib.contextmanager
def served_pods(
    root: Path, sizes: Mapping[str, int], prefix: str, mp: pytest.MonkeyPatch
) -> Iterator[ServedPods]:
    """A pod per name of ``sizes`` with that many events appended and a checkpoint signed (of
    the empty tree for 0), served (90 s to start), tokens set with ``mp``."""
    pods: dict[str, Pod] = {}
    for name, count in sizes.items():
        pod = make_pod(root, name)
        shutil.copytree(REPO / "policies", pod.path / "policies")  # serve needs them
        if count:
            pod.append(count)
        code, signed = pod.checkpoint()
        assert code == 0, signed
        pods[name] = pod
    with serving(pods, 90) as served:
        world = ServedPods(root, pods, served, prefix)
        for name, s in served.items():
            mp.setenv(world.var(name), s.token())
        yield world


class Process:
    """A child process with its output in a file (an unread pipe would fill up)."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgeaudit.cli.main", *self.argv],
                env={**CLEAN_ENV, "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_for(self, url: str, deadline: float) -> None:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                assert self.proc is not None
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, f"{self.argv[:3]} did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class Served(Process):
    """``edgeaudit serve`` of a pod's workspace on a fixed loopback port, reached (by the
    mirror) over its WAN link, whose address is the service's public URL."""

    def __init__(self, pod: Pod, link: Link | None = None) -> None:
        self.pod = pod
        self.port = free_port()
        self.link = link or Link(self.port)
        self.url = self.link.url
        super().__init__(self._argv(), pod.path.parent / f"{pod.path.name}.serve.log")

    def _argv(self) -> list[str]:
        argv = [*self.pod.ws, "serve", "--port", str(self.port), "--no-pdf", "--rate", "0"]
        return [*argv, "--public-url", self.url]

    def wait_for(self, url: str, deadline: float) -> None:
        """As :meth:`Process.wait_for`; a port another process took between :func:`free_port`
        and the server's bind (other programs on the machine bind ports too) is replaced by
        another, up to three times."""
        for attempt in range(4):
            try:
                super().wait_for(url, deadline)
                return
            except AssertionError:
                taken = f"cannot listen on 127.0.0.1:{self.port}: Address already in use"
                ended = self.proc is not None and self.proc.poll() is not None
                if attempt == 3 or not ended or taken not in self.log.read_text():
                    raise
            old, self.port = self.port, free_port()
            url = url.replace(f"127.0.0.1:{old}/", f"127.0.0.1:{self.port}/")
            if self.link.upstream == ("127.0.0.1", old):
                self.link.upstream = ("127.0.0.1", self.port)
            self.argv = self._argv()
            self.start()

    def impostor(self, pod: Pod) -> Served:
        """Another ``serve`` of ``pod`` (e.g. a rewritten history) at this one's public
        address: the link leads to it until :meth:`restore`."""
        other = Served(pod, self.link)
        other.start()
        other.wait_for(f"http://127.0.0.1:{other.port}/checkpoint", time.monotonic() + 60)
        self.link.upstream = ("127.0.0.1", other.port)
        return other

    def restore(self) -> None:
        self.link.upstream = ("127.0.0.1", self.port)

    def token(self, role: str = "auditor") -> str:
        """A bearer token for entry bundles (issued in the pod's workspace)."""
        return str(ok_json(*self.pod.ws, "token", "issue", "--role", role)["token"])


class Witness(Process):
    """``edgeaudit witness serve`` with its own configuration and state directory."""

    def __init__(self, root: Path, label: str, pods: list[Pod]) -> None:
        self.label = label
        self.dir = root / label
        self.config = self.dir / "witness.toml"
        name = f"{label}.witness.example.net"
        argv = ["witness", "init", "--config", str(self.config), "--name", name]
        for pod in pods:
            argv += ["--log", pod.vkey()]
        self.vkey = str(ok_json(*argv)["verifier_key"])
        self.port = 0
        self.url = ""
        serve = ["witness", "serve", "--config", str(self.config), "--port", "0"]
        super().__init__(serve, self.dir / "serve.log")

    def wait_ready(self, deadline: float) -> None:
        """Wait for the line naming the port it bound (``--port 0``: no port to race for)."""
        while True:
            first, newline, _ = self.log.read_text().partition("\n")
            if newline and first.startswith("witness ") and " on http://" in first:
                self.url = first.rsplit(" ", 1)[1]
                self.port = int(self.url.rsplit(":", 1)[1])
                return
            assert self.proc is not None
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"witness {self.label} did not start"
            time.sleep(0.05)

    def latest(self, origin: str) -> tuple[int, str]:
        """What the witness answers monitors for ``origin``: (status, cosigned note)."""
        digest = hashlib.sha256(origin.encode()).hexdigest()
        try:
            with urllib.request.urlopen(f"{self.url}/{digest}/checkpoint", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def forks(self) -> tuple[int, dict[str, Any]]:
        return run_json("witness", "forks", "--config", str(self.config))


def note_size(note: str) -> int:
    return int(note.split("\n")[1])


def note_root(note: str) -> str:
    return note.split("\n")[2]


def signers(note: str) -> list[str]:
    """The key names of a note's signature lines."""
    _, _, sigs = note.partition("\n\n")
    return [line.split(" ")[1] for line in sigs.splitlines() if line.startswith("\u2014 ")]


def rewrite_history(pod: Pod, path: Path, ask_witnesses: bool = True) -> Pod:
    """The operator rewrites ``pod``'s history with its own key: a new, empty store for the
    same origin in a new workspace at ``path``, holding the pod's log key and configuration
    (its ``[[witness]]`` tables unless not ``ask_witnesses``) but not the signer's record of
    what it signed before."""
    ok_json("-w", str(path), "init", "--site", pod.name, "--origin", pod.origin)
    shutil.copyfile(pod.path / "keys" / "log.key", path / "keys" / "log.key")
    toml = (pod.path / "edgeaudit.toml").read_text()
    if not ask_witnesses:
        toml = toml.split("\n[[witness]]\n", 1)[0]
    (path / "edgeaudit.toml").write_text(toml)
    shutil.copytree(pod.path / "policies", path / "policies")
    token_key = pod.path / "keys" / "token.key"  # the pod's API tokens stay valid
    if token_key.exists():
        copy = path / "keys" / "token.key"
        copy.touch(mode=0o600)
        shutil.copyfile(token_key, copy)
    forged = Pod(pod.name, pod.origin, path, counter=10_000, links=pod.links)
    assert forged.vkey() == pod.vkey()
    return forged
