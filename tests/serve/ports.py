"""`edgeaudit serve` as a real process on a port chosen by binding port 0.

The port is free when chosen but is bound only later, by the child: another program on the
machine can take it in between ("Address already in use" failed CI runs). :func:`serving`
then starts the server again on another port, up to three times, as the campus fixture,
test_hosts_pg and test_workers do.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

TRIES = 3  # starts on other ports after the first one was taken


def free_port() -> int:
    """A loopback port nothing listens on now (bound 0, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_taken(stderr: str, port: int) -> bool:
    """True if a server's stderr says `port` was in use: its own check before it starts
    (edgeaudit.cli.serve), or uvicorn's bind just after (asyncio's words)."""
    return (
        f"cannot listen on 127.0.0.1:{port}: Address already in use" in stderr
        or f"('127.0.0.1', {port}): address already in use" in stderr
    )


@dataclass(frozen=True)
class Served:
    """A serve process answering at :attr:`url`; its stderr (the access log) in :attr:`log`."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _launch(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    with log.open("wb") as err:  # a file: the access log would fill a pipe
        return subprocess.Popen(
            [sys.executable, "-m", "edgeaudit.cli.main", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _answers(proc: subprocess.Popen[bytes], url: str, log: Path, wait: float) -> bool:
    """True once `url` answers; False if the process ended (its log says why)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.TransportError:
            if proc.poll() is not None:
                return False
            assert time.monotonic() < deadline, "serve did not start: " + log.read_text()
            time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=20)


def start(
    argv: Callable[[int], list[str]],
    logs: Path,
    ready: str = "/api/v1/checkpoint",
    first: Callable[[], int] = free_port,
    wait: float = 90,  # start-up on a loaded machine
) -> Served:
    """Run ``edgeaudit <argv(port)>`` until GET `ready` answers, on another port when the one
    chosen was taken before the server bound it. Each start logs to its own file in `logs`.
    `first` chooses the first port (a test can hand it a taken one)."""
    port = first()
    for attempt in range(1 + TRIES):
        if attempt:
            port = free_port()
        log = logs / f"serve-{port}.err"
        proc = _launch(argv(port), log)
        try:
            up = _answers(proc, f"http://127.0.0.1:{port}{ready}", log, wait)
        except BaseException:
            _stop(proc)
            raise
        if up:
            return Served(port, proc, log)
        text = log.read_text()
        assert port_taken(text, port), f"serve ended (port {port}): {text}"
    raise AssertionError(f"{1 + TRIES} ports in a row were taken, the last: {text}")


@contextmanager
def serving(
    argv: Callable[[int], list[str]],
    logs: Path,
    ready: str = "/api/v1/checkpoint",
    first: Callable[[], int] = free_port,
) -> Iterator[Served]:
    """:func:`start`, stopped (SIGTERM, waited for) on leaving."""
    served = start(argv, logs, ready, first)
    try:
        yield served
    finally:
        _stop(served.proc)
