"""`edgeaudit serve`: public proof endpoints under load, and the dashboard's render time.

Targets (issue 7), on a store of 1 M entries: the public proof endpoints >= 1 000 requests/s
with p99 <= 50 ms from a load generator on the same machine; the dashboard renders in
<= 300 ms. Issue 16: with ``--workers 2`` and the JSON access log on, checkpoint requests/s
>= 0.5 x a same-run bare ASGI app on uvicorn with two workers answering a constant body, and
mixed proof requests' p99 <= 50 ms. The load generator shares the machine's cores.

    python bench/bench_serve.py --dir /tmp/bench-serve --n 1000000 --seconds 15

The workspace (SQLite, synthetic events of bench/_common.py, the repository's policies) is
created and filled once in DIR/ws; later runs reuse it. The server is the real command
(`edgeaudit serve --workers W`, default 2) in a child process, its access log to
DIR/access.log. The load generator is PROCS processes x THREADS threads, each with one
keep-alive HTTP/1.1 connection (http.client), asking in turn for the latest checkpoint, an
inclusion proof of a random index and a consistency proof from a random earlier signed size.
Baseline in the same run: the same generator against a bare ASGI app on uvicorn with as many
workers that answers a fixed JSON body (what the machine and the generator can do at all).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Timer, events, machine

from edgeaudit.events import prepare
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.setup import init_workspace
from edgeaudit.workspace.signing import sign_checkpoint

REPO = Path(__file__).resolve().parents[1]


def fill(ws: Path, n: int) -> None:
    if (ws / cfg.CONFIG_NAME).exists():
        return
    config = init_workspace(ws, site="bench")
    shutil.copytree(REPO / "policies", ws / "policies")
    with Store.open(config.db_url) as store, Timer() as t:
        log = store.log(config.origin)
        batch: list = []
        for i, e in enumerate(events(0, n)):
            batch.append(prepare(e, fingerprint=f"bench:{i}"))
            if len(batch) == 10_000:
                log.append(batch)
                batch = []
            if (i + 1) % (n // 4) == 0:  # a few signed sizes for consistency proofs
                if batch:
                    log.append(batch)
                    batch = []
                sign_checkpoint(config, log)
        if batch:
            log.append(batch)
        sign_checkpoint(config, log)
    print(f"filled {n} events in {t.seconds:.1f} s (not part of the figures)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not come up")


def _worker(args: tuple[int, list[str], float, int, int, int]) -> list[float]:
    port, paths, seconds, threads, seed, size = args
    import threading

    out: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(k: int) -> None:
        rnd = random.Random(seed * 100 + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop:
            path = rnd.choice(paths)
            path = path.replace("{i}", str(rnd.randrange(0, size)))
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"{path}: HTTP {r.status}")
            mine.append(time.perf_counter() - t0)
        with lock:
            out.extend(mine)

    ts = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def load(
    port: int, paths: list[str], seconds: float, procs: int, threads: int, size: int = 1
) -> dict:
    with mp.Pool(procs) as pool:
        t0 = time.perf_counter()
        parts = pool.map(_worker, [(port, paths, seconds, threads, p, size) for p in range(procs)])
        wall = time.perf_counter() - t0
    lat = sorted(x for p in parts for x in p)
    n = len(lat)
    return {
        "requests": n,
        "req_per_s": round(n / seconds, 1),
        "p50_ms": round(lat[n // 2] * 1000, 2),
        "p99_ms": round(lat[int(n * 0.99)] * 1000, 2),
        "max_ms": round(lat[-1] * 1000, 2),
        "wall_s": round(wall, 1),
    }


BARE_ASGI = """
BODY = b'{"tree_size": 1000000, "proof": ["00"]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bench-serve")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    ap.add_argument("--dashboard-only", action="store_true", help="skip the load runs")
    ap.add_argument("--no-dashboard", action="store_true", help="only the load runs")
    ap.add_argument(
        "--ws",
        help="dashboard-only: an existing workspace (e.g. a collected 1 M demo campus with "
        "policies/, from bench_evaluate.py) instead of the synthetic store",
    )
    ap.add_argument("--period", default="2023Q4", help="dashboard period (synthetic: 2023Q4)")
    ap.add_argument(
        "--after", type=float, default=0.0, help="dashboard-only: seconds to wait after start-up"
    )
    a = ap.parse_args()
    root = Path(a.dir)
    ws = Path(a.ws) if a.ws else root / "ws"
    root.mkdir(parents=True, exist_ok=True)
    if not a.ws:
        fill(ws, a.n)
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        signed = [c.tree_size for c in store.log(config.origin).checkpoints()]
    print(f"{machine()}, load average {os.getloadavg()[0]:.1f}; store {signed[-1]} entries")

    if a.dashboard_only:
        port = free_port()
        env = {**os.environ, "EDGEAUDIT_WORKSPACE": str(ws)}
        server = subprocess.Popen(
            [sys.executable, "-m", "edgeaudit.cli.main", "serve", "--port", str(port)], env=env
        )
        try:
            wait_up(port, "/api/v1/checkpoint")
            time.sleep(a.after)  # lets the start-up assessment of the default period finish
            dashboard(port, ws, a.period)
        finally:
            server.terminate()
            server.wait()
        return
    # the baseline: a bare ASGI app answering a fixed body, on uvicorn with as many workers
    port = free_port()
    (root / "bare_asgi.py").write_text(BARE_ASGI)
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_asgi:app",
            "--app-dir",
            str(root),
            "--port",
            str(port),
            "--workers",
            str(a.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    )
    try:
        wait_up(port, "/")
        base = load(port, ["/x"], a.seconds, a.procs, a.threads)
    finally:
        bare.terminate()
        bare.wait()
    print(
        f"baseline (bare ASGI app on uvicorn, {a.workers} workers, fixed body):", json.dumps(base)
    )

    port = free_port()
    env = {**os.environ, "EDGEAUDIT_WORKSPACE": str(ws)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgeaudit.cli.main",
            "serve",
            "--port",
            str(port),
            "--rate",
            "0",
            "--no-pdf",
            "--workers",
            str(a.workers),
        ],
        env=env,
        stderr=(root / "access.log").open("w"),  # the JSON access log stays on
    )
    try:
        wait_up(port, "/api/v1/checkpoint")
        time.sleep(2)  # every worker up
        results = {}
        old = signed[0]
        for name, paths in {
            "checkpoint": ["/api/v1/checkpoint"],
            "inclusion": [f"/api/v1/proof/inclusion/{{i}}?tree_size={signed[-1]}"],
            "consistency": [f"/api/v1/proof/consistency?old={old}"],
            "mixed": [
                "/api/v1/checkpoint",
                "/api/v1/proof/inclusion/{i}",
                f"/api/v1/proof/consistency?old={old}",
            ],
        }.items():
            results[name] = load(port, paths, a.seconds, a.procs, a.threads, signed[-1])
            print(f"{name}:", json.dumps(results[name]))
        ratio = results["checkpoint"]["req_per_s"] / base["req_per_s"]
        logged = sum(1 for _ in (root / "access.log").open())
        print(
            f"checkpoint req/s = {ratio:.2f} x the bare ASGI baseline (target >= 0.5); "
            f"mixed p99 {results['mixed']['p99_ms']} ms (target <= 50); "
            f"{logged} access-log lines written"
        )
        if not a.no_dashboard:
            dashboard(port, ws)
    finally:
        server.terminate()
        server.wait()


def dashboard(port: int, ws: Path, quarter: str = "2023Q4") -> None:
    """Sign in as an officer and time the dashboard: the first render (it evaluates the period,
    or waits for the start-up assessment when the period is the default one) and later ones."""
    import re

    from edgeaudit.cli.main import main as cli

    token_file = ws / "bench-officer.json"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["--workspace", str(ws), "token", "issue", "--role", "officer", "--json"])
    token = json.loads(out.getvalue())["token"]
    token_file.unlink(missing_ok=True)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", "/login")
    r = c.getresponse()
    page = r.read().decode()
    login_cookie = r.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    from urllib.parse import urlencode

    c.request(
        "POST",
        "/login",
        body=urlencode({"token": token, "csrf": csrf}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie},
    )
    r = c.getresponse()
    r.read()
    cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
    session = next(x for x in cookies if x.startswith("edgeaudit_session="))
    times = []
    for _ in range(6):
        t0 = time.perf_counter()
        c.request("GET", f"/dashboard?period={quarter}", headers={"Cookie": session})
        r = c.getresponse()
        body = r.read()
        times.append(time.perf_counter() - t0)
        assert r.status == 200, body[:300]
    print(
        f"dashboard {quarter}: first render {times[0] * 1000:.0f} ms (evaluation or start-up "
        "assessment); "
        f"cached renders {', '.join(f'{t * 1000:.0f}' for t in times[1:])} ms; "
        f"{len(body)} bytes"
    )


if __name__ == "__main__":
    main()
