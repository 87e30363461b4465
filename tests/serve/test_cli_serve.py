"""`edgeaudit serve` as a real process: it listens on 127.0.0.1 and answers the public API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serve.conftest import Site, copy_site
from tests.serve.ports import port_taken, serving


def test_serve_command_answers(site: Site, tmp_path: Path) -> None:
    def argv(port: int) -> list[str]:
        return ["--workspace", str(site.ws), "serve", "--port", str(port), "--no-pdf"]

    # the first port chosen is one another program listens on (as when it takes the port
    # between the choice and serve's bind): serve says so and starts again on another port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        with serving(argv, tmp_path, first=lambda: taken) as served:
            assert served.port != taken
            assert port_taken((tmp_path / f"serve-{taken}.err").read_text(), taken)
            base = served.url
            r = httpx.get(f"{base}/api/v1/checkpoint", timeout=10)
            assert r.status_code == 200
            assert r.json()["verifier_key"] == site.config.verifier_key
            doc = httpx.get(f"{base}/api/v1/openapi.json").json()
            assert doc["info"]["title"] == "edgeaudit"
            r = httpx.get(f"{base}/api/v1/whoami")
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == "Bearer"
            assert "server" not in r.headers  # no server banner


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
    site: Site, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
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

    def argv(port: int) -> list[str]:
        serve = ["--workspace", str(ws), "serve", "--port", str(port), "--no-pdf"]
        return [*serve, "--with-scheduler"]

    said = "no scheduled plan has its vantage segment here"
    with serving(argv, tmp_path) as served:
        deadline = time.monotonic() + 60  # the scheduler's start-up on a loaded machine
        while said not in served.log.read_text():
            assert time.monotonic() < deadline, served.log.read_text()
            time.sleep(0.2)
        r2 = httpx.get(f"{served.url}/api/v1/checkpoint", timeout=10)
        assert r2.status_code == 200
