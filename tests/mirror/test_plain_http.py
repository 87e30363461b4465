"""The pod's token never goes over plain http:// to a host that is not loopback unless the
operator opted in for that ``[[mirror]]`` (``allow_plain_http = true``, ``mirror add
--allow-plain-http``): ``mirror add`` writes nothing and ``mirror sync`` syncs nothing (exit 2,
naming the table), before any request; with the opt-in the pod is synced with the token."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeaudit.errors import ConfigError
from edgeaudit.mirror.http import PodClient
from edgeaudit.note.signer import generate
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import load_mirrors, make_source
from tests.mirror.conftest import central, mirrored
from tests.mirror.hostile import HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

ORIGIN = "lab.example/pod-p"
TOKEN = "plain-http-token-7c1e"


def _own_address() -> str:
    """This host's address on its default route (not loopback), e.g. 192.0.2.2: a UDP
    'connection' sends nothing. Without a route, 0.0.0.0, which Linux delivers locally."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            address = str(s.getsockname()[0])
        except OSError:
            return "0.0.0.0"
    return "0.0.0.0" if address.startswith("127.") else address


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, HostilePod]]:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    monkeypatch.setenv("LAB_TOKEN", TOKEN)
    pod = HostilePod(HostileLog(generate(ORIGIN), event_entries("p", 300)), 300, "0.0.0.0")
    try:
        yield central(tmp_path), pod
    finally:
        pod.close()


def test_loopback_hosts_only_unless_opted_in() -> None:
    key = generate(ORIGIN).verifier_key
    for url in (
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://localhost:1",
        "http://[::1]:8",
    ):
        assert make_source(url, key, "T", "test").token_problem() is None, url
    for url in ("http://192.0.2.7:8080", "http://pod.campus.example", "http://[fd00::2]:80"):
        problem = make_source(url, key, "T", "test").token_problem()
        assert problem is not None, url
        assert f"[[mirror]] '{ORIGIN}'" in problem
        assert "allow_plain_http" in problem
        assert make_source(url, key, None, "test").token_problem() is None  # no token: fine
        with pytest.raises(ConfigError):
            PodClient(url, token="t")
        PodClient(url, token="t", allow_plain_http=True).close()
    assert make_source("https://192.0.2.7", key, "T", "test").token_problem() is None


def test_the_token_goes_over_plain_http_only_with_the_opt_in(
    lab: tuple[Path, HostilePod],
) -> None:
    ws, pod = lab
    url = f"http://{_own_address()}:{pod.port}"
    toml = ws / "edgeaudit.toml"
    before = toml.read_text()
    argv = ["--workspace", str(ws), "mirror", "add", url, "--key", pod.log.vkey]
    code, out, err = run(*argv, "--token-env", "LAB_TOKEN")
    assert code == 2, out + err
    assert "--allow-plain-http" in err
    assert "Nothing was written" in err
    assert toml.read_text() == before
    assert pod.requests == []  # refused before asking anything

    code, out, err = run(*argv, "--token-env", "LAB_TOKEN", "--allow-plain-http")
    assert code == 0, err
    assert load_mirrors(ws)[0].allow_plain_http is True
    code, out, err = run("--workspace", str(ws), "mirror", "sync", "--rate", "0")
    assert code == 0, out + err
    assert mirrored(ws, ORIGIN)[:2] == (300, 300)
    bundles = [r for r in pod.requests if r.path.startswith("tile/entries/")]
    assert bundles
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in bundles)

    # the opt-in taken out by hand: sync refuses before any request, naming the table
    toml.write_text(toml.read_text().replace("allow_plain_http = true\n", ""))
    assert load_mirrors(ws)[0].allow_plain_http is False
    asked = len(pod.requests)
    code, out, err = run("--workspace", str(ws), "mirror", "sync", "--rate", "0")
    assert code == 2, out + err
    assert f"[[mirror]] '{ORIGIN}'" in err
    assert "edgeaudit.toml" in err
    assert TOKEN not in out + err
    assert len(pod.requests) == asked
