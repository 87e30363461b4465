"""Real parts for witness tests: pod workspaces driven through the CLI, and a real
``edgeaudit witness serve`` process on loopback."""

from __future__ import annotations

import base64
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edgeaudit.cli.main import main


def cli(*argv: str) -> dict[str, Any]:
    """Run the edgeaudit CLI in this process with --json; its JSON output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--json", *argv])
    assert code == 0, (argv, out.getvalue())
    text = out.getvalue().strip()
    return json.loads(text) if text else {}


@dataclass
class Pod:
    """A pod's workspace: a real store appended and checkpointed through the CLI."""

    path: Path
    counter: int = 0

    def append(self, n: int, tag: str = "") -> None:
        events = self.path / "events.jsonl"
        with events.open("w") as f:
            for _ in range(n):
                self.counter += 1
                f.write(
                    json.dumps(
                        {
                            "kind": "test.event",
                            "time": f"2026-07-01T{self.counter // 3600:02d}:"
                            f"{self.counter // 60 % 60:02d}:{self.counter % 60:02d}Z",
                            "n": self.counter,
                            "tag": tag,
                        }
                    )
                    + "\n"
                )
        cli("-w", str(self.path), "append", str(events))

    def checkpoint(self) -> bytes:
        return str(cli("-w", str(self.path), "checkpoint")["note"]).encode()

    def proof(self, old: int, new: int) -> list[bytes]:
        data = cli("-w", str(self.path), "proof", "consistency", str(old), str(new))
        return [bytes.fromhex(h) for h in data["proof"]]

    def vkey(self) -> str:
        return str(cli("-w", str(self.path), "key", "show")["verifier_key"])

    def fork(self, path: Path) -> Pod:
        """A copy of the workspace, same log key: appending to it rewrites history."""
        shutil.copytree(self.path, path)
        return Pod(path, self.counter)


def make_pod(path: Path, site: str = "pod1", origin: str | None = None) -> Pod:
    args = ["-w", str(path), "init", "--site", site]
    if origin is not None:
        args += ["--origin", origin]
    cli(*args)
    return Pod(path)


@dataclass
class WitnessProcess:
    config: Path
    url: str
    vkey: str
    proc: subprocess.Popen[bytes]

    def post(self, body: bytes) -> tuple[int, str, bytes]:
        """POST add-checkpoint; (status, content type, body)."""
        req = urllib.request.Request(f"{self.url}/add-checkpoint", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers["Content-Type"], r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Type"], e.read()

    def get_checkpoint(self, origin: str) -> tuple[int, bytes]:
        digest = hashlib.sha256(origin.encode()).hexdigest()
        try:
            with urllib.request.urlopen(f"{self.url}/{digest}/checkpoint", timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)


def start_witness(config: Path, *extra: str) -> WitnessProcess:
    """A real ``edgeaudit witness serve`` on a free loopback port."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeaudit.cli.main",
            "witness",
            "serve",
            "--config",
            str(config),
            "--port",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()
    second = proc.stdout.readline().decode()
    if not first.startswith("witness "):
        proc.kill()
        raise AssertionError(f"witness did not start: {first!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
    url = first.rsplit(" ", 1)[1].strip()
    return WitnessProcess(config, url, second.split()[-1], proc)


@pytest.fixture
def witnesses() -> Iterator[list[WitnessProcess]]:
    """Started witnesses are stopped (by their own process) at the end of the test."""
    started: list[WitnessProcess] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(timeout=10)


def body(old: int, proof: list[bytes], note: bytes) -> bytes:
    """An add-checkpoint body, written from the spec text (not the package's own encoder)."""
    lines = [f"old {old}\n"] + [base64.b64encode(h).decode() + "\n" for h in proof] + ["\n"]
    return "".join(lines).encode() + note


def check_cosignature(line: str, witness_vkey: str, note: bytes, now: float) -> int:
    """Verify a cosignature line from the tlog-cosignature spec text; its timestamp.

    Independent of edgeaudit.note: key id = SHA-256(name || "\\n" || 0x04 || pk)[:4];
    signature = u64 timestamp || Ed25519 over "cosignature/v1\\ntime <ts>\\n" || checkpoint body.
    """
    name, _, rest = witness_vkey.partition("+")
    kid_hex, _, key_b64 = rest.partition("+")
    raw_key = base64.b64decode(key_b64)
    assert raw_key[0] == 0x04
    assert len(raw_key) == 33
    pk = raw_key[1:]
    assert hashlib.sha256(name.encode() + b"\n" + b"\x04" + pk).digest()[:4].hex() == kid_hex
    assert line.endswith("\n")
    assert line.startswith(f"\u2014 {name} ")
    blob = base64.b64decode(line[len(f"\u2014 {name} ") : -1], validate=True)
    assert len(blob) == 4 + 8 + 64
    assert blob[:4].hex() == kid_hex
    timestamp = int.from_bytes(blob[4:12], "big")
    assert timestamp != 0
    assert abs(timestamp - now) < 60
    checkpoint_body = note[: note.index(b"\n\n") + 1]
    message = b"cosignature/v1\n" + f"time {timestamp}\n".encode() + checkpoint_body
    Ed25519PublicKey.from_public_bytes(pk).verify(blob[12:], message)  # raises if invalid
    return timestamp


def witness_config(path: Path, name: str, pods: list[Pod]) -> Path:
    config = path / "witness.toml"
    args = ["witness", "init", "--config", str(config), "--name", name]
    for pod in pods:
        args += ["--log", pod.vkey()]
    cli(*args)
    return config


def now() -> float:
    return time.time()
