"""`edgeaudit serve` as a real process: it listens on 127.0.0.1 and answers the public API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.serve.conftest import Site


def test_serve_command_answers(site: Site, tmp_path: object) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeaudit.cli.main",
            "--workspace",
            str(site.ws),
            "serve",
            "--port",
            str(port),
            "--no-pdf",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"{base}/api/v1/checkpoint", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        assert r.json()["verifier_key"] == site.config.verifier_key
        doc = httpx.get(f"{base}/api/v1/openapi.json").json()
        assert doc["info"]["title"] == "edgeaudit"
        r = httpx.get(f"{base}/api/v1/whoami")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "server" not in r.headers  # no server banner
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_refuses_a_bad_port(site: Site) -> None:
    from tests.pack.helpers import run

    code, _, err = run("--workspace", str(site.ws), "serve", "--port", "70000")
    assert code == 2
    assert "--port" in err
