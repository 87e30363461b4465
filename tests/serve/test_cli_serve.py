"""`edgeaudit serve` as a real process: it listens on 127.0.0.1 and answers the public API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.serve.conftest import Site, copy_site


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
        deadline = time.monotonic() + 90  # start-up on a loaded machine
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


def test_serve_refuses_bad_edge_options(site: Site) -> None:
    from tests.pack.helpers import run

    for args, named in (
        (["--public-url", "ftp://audit.example"], "--public-url"),
        (["--public-url", "https://audit.example/path"], "--public-url"),
        (["--trusted-proxy", "proxy.example"], "--trusted-proxy"),
        (["--session-idle", "0"], "--session-idle"),
        (["--export-ttl", "forever"], "--export-ttl"),
        (["--workers", "0"], "--workers"),
        (["--host", "0.0.0.0"], "--public-url"),
        (["--secure-cookies"], "--secure-cookies"),
    ):
        code, _, err = run("--workspace", str(site.ws), "serve", "--port", "1", *args)
        assert code == 2, (args, err)
        assert named in err, (args, err)


def test_with_scheduler_needs_plans_and_runs_the_scheduler_beside_the_server(
    site: Site, tmp_path: object
) -> None:
    import shutil
    from pathlib import Path

    ws = Path(str(tmp_path)) / "ws"
    copy_site(site, ws)
    shutil.rmtree(ws / "policies", ignore_errors=True)
    shutil.copytree(Path(__file__).resolve().parents[2] / "policies", ws / "policies")
    (ws / "policies" / "probes.yaml").rename(ws / "probes.yaml.off")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    base_cmd = [sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(ws), "serve"]
    # no probe plans: refused before anything listens
    r = subprocess.run(
        [*base_cmd, "--with-scheduler"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "probes.yaml is missing" in r.stderr
    # with the repository's plans, none of which has its vantage segment on this host: the
    # scheduler child says so and stops, and the server keeps answering
    (ws / "probes.yaml.off").rename(ws / "policies" / "probes.yaml")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*base_cmd, "--port", str(port), "--no-pdf", "--with-scheduler"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90  # start-up on a loaded machine
        while True:
            try:
                r2 = httpx.get(f"http://127.0.0.1:{port}/api/v1/checkpoint", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert r2.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "no scheduled plan has its vantage segment here" in err.decode()
