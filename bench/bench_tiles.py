"""`edgeaudit serve` publishing C2SP tlog-tiles: full hash tile latency on loopback.

Goal (issue 18, item 1): a full tile's p99 <= 2 ms on loopback.

    python bench/bench_tiles.py --dir /tmp/bench-tiles --n 1000000 --requests 5000

The workspace (SQLite, the synthetic events of bench/_common.py) is created and filled once in
DIR/ws by bench_serve.fill; later runs reuse it. The server is the real command
(`edgeaudit serve --rate 0 --no-pdf`, one worker, its JSON access log on, to a file) in a child
process. One client, one keep-alive HTTP/1.1 connection (http.client), requests one after
another, so the figures are latencies, not throughput:

* full level-0 tiles at random (the server keeps 512 full tiles in memory; a 1 M log has 3 906,
  so most of these read 16 store tiles from SQLite);
* one full level-0 tile over and over (kept in memory after the first);
* full level-1 tiles at random; the partial tiles of the latest signed size;
* baseline in the same run: the same client against a bare ASGI app on uvicorn answering a
  constant 8,192-byte body (what the machine, the server stack and the client cost at all);
* in process, without HTTP: the read and assembly of random full level-0 tiles (memory cache
  emptied before each), i.e. the server's own work per tile.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from bench_serve import fill, free_port, wait_up

from edgeaudit.merkle.c2sp import TileRef
from edgeaudit.serve.public import PublicLog
from edgeaudit.serve.tiles import TileLog
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg

BARE_ASGI = """
BODY = bytes(8192)
HEADERS = [
    (b"content-type", b"application/octet-stream"),
    (b"content-length", b"8192"),
    (b"cache-control", b"public, max-age=31536000, immutable"),
]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def encode(n: int) -> str:
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(groups)


def run(port: int, paths: list[str], requests: int, seed: int = 1) -> dict[str, float]:
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = []
    for _ in range(requests):
        path = rnd.choice(paths)
        t0 = time.perf_counter()
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        lat.append(time.perf_counter() - t0)
        if r.status != 200:
            raise SystemExit(f"{path}: HTTP {r.status} {body[:200]!r}")
    conn.close()
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "p50_ms": round(lat[n // 2] * 1000, 3),
        "p99_ms": round(lat[int(n * 0.99)] * 1000, 3),
        "max_ms": round(lat[-1] * 1000, 3),
    }


def in_process(ws: Path, requests: int) -> dict[str, float]:
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        tiles = TileLog(PublicLog(config, store.log(config.origin)))
        size = int(tiles.public.checkpoint()["tree_size"])
        rnd = random.Random(4)
        lat = []
        for _ in range(requests):
            ref = TileRef(0, rnd.randrange(size // 256), 256)
            tiles._full.clear()
            t0 = time.perf_counter()
            assert len(tiles.hash_tile(ref).body) == 8192
            lat.append(time.perf_counter() - t0)
    lat.sort()
    n = len(lat)
    return {
        "tiles": n,
        "p50_ms": round(lat[n // 2] * 1000, 3),
        "p99_ms": round(lat[int(n * 0.99)] * 1000, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/bench-tiles")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=5000)
    a = ap.parse_args()
    root = Path(a.dir)
    root.mkdir(parents=True, exist_ok=True)
    ws = root / "ws"
    fill(ws, a.n)
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print("in process, random full level-0 tiles read and assembled:", in_process(ws, 2000))

    port = free_port()
    (root / "bare_asgi.py").write_text(BARE_ASGI)
    uvicorn = [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--app-dir", str(root)]
    bare = subprocess.Popen(
        [*uvicorn, "--port", str(port), "--log-level", "warning", "--no-access-log"]
    )
    try:
        wait_up(port, "/")
        run(port, ["/x"], 500)  # warm-up
        base = run(port, ["/tile/0/000"], a.requests)
    finally:
        bare.terminate()
        bare.wait()
    print("baseline (bare ASGI app on uvicorn, constant 8 KiB body):", json.dumps(base))

    port = free_port()
    env = {**os.environ, "EDGEAUDIT_WORKSPACE": str(ws)}
    argv = ["serve", "--port", str(port), "--rate", "0", "--no-pdf"]
    server = subprocess.Popen(
        [sys.executable, "-m", "edgeaudit.cli.main", *argv],
        env=env,
        stderr=(root / "access.log").open("w"),  # the JSON access log stays on
    )
    try:
        wait_up(port, "/checkpoint")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/checkpoint")
        size = int(conn.getresponse().read().decode().split("\n")[1])
        conn.close()
        full0 = [f"/tile/0/{encode(n)}" for n in range(size // 256)]
        full1 = [f"/tile/1/{encode(n)}" for n in range(size // 65536)]
        partial = []
        for level in range(4):
            w = (size >> (8 * level)) % 256
            if w:
                partial.append(f"/tile/{level}/{encode((size >> (8 * level)) // 256)}.p/{w}")
        run(port, full0[:50], 500)  # warm-up
        results = {
            "full level-0 tiles at random": run(port, full0, a.requests, 2),
            "one full level-0 tile": run(port, full0[7:8], a.requests),
            "full level-1 tiles at random": run(port, full1, a.requests, 3),
            f"partial tiles of size {size}": run(port, partial, a.requests),
        }
        for name, r in results.items():
            print(f"{name}:", json.dumps(r))
        p99 = results["full level-0 tiles at random"]["p99_ms"]
        print(
            f"tree size {size}: full tile p99 {p99} ms (goal <= 2 ms); baseline p99 "
            f"{base['p99_ms']} ms; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
