"""`edgeaudit serve` publishes the log as C2SP tlog-tiles: a real serve process over a real
SQLite store of 70 005 entries, signed at 768 (a multiple of 256), 1 000 (partial) and 70 000
(three tile levels); the last 5 entries are not signed.

The client below is written from the tlog-tiles, tlog-checkpoint and signed-note texts and
RFC 6962 only: it imports nothing of edgeaudit's tree, tile or note code. It verifies the
checkpoint's Ed25519 signature, fetches the tiles a size needs and recomputes the root.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from edgeaudit.events import prepare
from edgeaudit.serve.app import asgi, create_app
from edgeaudit.serve.setup import make_service
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.signing import sign_checkpoint
from tests.pack.helpers import run
from tests.serve.conftest import POLICIES, Site, settings
from tests.serve.ports import serving

SIGNED = (768, 1000, 70_000)
UNSIGNED = 5

# -- the independent client ----------------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    return _h(b"\x00" + entry)


def node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 2.1 over hashes already at the bottom (split at the largest power of 2 < n)."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node(mth(hashes[:k]), mth(hashes[k:]))


def encode_n(n: int) -> str:
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(groups)


def tile_path(level: int | str, n: int, width: int) -> str:
    return f"tile/{level}/{encode_n(n)}" + ("" if width == 256 else f".p/{width}")


@dataclass(frozen=True)
class Note:
    origin: str
    size: int
    root: bytes


def open_note(text: str, vkey: str) -> Note:
    """A checkpoint signed by ``vkey`` (name+keyid+base64(0x01 || key)); AssertionError else."""
    name, keyid_hex, blob = vkey.split("+", 2)  # no "+" in a name; base64 may hold one
    raw = base64.b64decode(blob)
    assert raw[0] == 1
    assert len(raw) == 33
    keyid = _h(name.encode() + b"\n" + raw)[:4]
    assert keyid.hex() == keyid_hex
    body, sep, sigs = text.partition("\n\n")
    assert sep
    assert text.endswith("\n")
    good = False
    for line in sigs.splitlines():
        dash, who, sig = line.split(" ")
        assert dash == "\u2014"
        sig_raw = base64.b64decode(sig)
        if who == name and sig_raw[:4] == keyid:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig_raw[4:], (body + "\n").encode())
            good = True
    assert good, "no signature by the log's key"
    lines = body.split("\n")
    return Note(lines[0], int(lines[1]), base64.b64decode(lines[2]))


def root_from_tiles(size: int, get: Callable[[str], bytes]) -> bytes:
    """The root of a tree of ``size`` from the tiles a client fetches: each complete subtree of
    the size's binary decomposition from the highest tile level holding it."""
    subtrees: list[bytes] = []
    start = 0
    for k in reversed(range(size.bit_length())):
        if not size >> k & 1:
            continue
        level, r = divmod(k, 8)
        first = start >> (8 * level)  # index of the subtree's first hash at that tile level
        n, offset = divmod(first, 256)
        full = (n + 1) << (8 * (level + 1)) <= size
        width = 256 if full else (size >> (8 * level)) % 256
        tile = get(tile_path(level, n, width))
        assert len(tile) == 32 * width
        hashes = [tile[i : i + 32] for i in range(0, len(tile), 32)]
        subtrees.append(mth(hashes[offset : offset + (1 << r)]))
        start += 1 << k
    out = subtrees[-1]
    for s in reversed(subtrees[:-1]):
        out = node(s, out)
    return out


def split_bundle(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i : i + 2], "big")
        out.append(data[i + 2 : i + 2 + n])
        assert len(out[-1]) == n, "truncated bundle"
        i += 2 + n
    return out


# -- the pod -------------------------------------------------------------------------------


def _events(first: int, count: int) -> list[dict[str, object]]:
    return [
        {
            "time": f"2026-11-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
            f"{i % 60:02d}Z",
            "kind": "auth.logon",
            "tenant": "fintech-a",
            "user": f"u{i % 97}",
            "n": i,
        }
        for i in range(first, first + count)
    ]


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Site:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("tilespod")
        ws = root / "ws"
        assert run("--workspace", str(ws), "init", "--site", "tiles-pod")[0] == 0
        shutil.copytree(POLICIES, ws / "policies")
        config = cfg.load(ws)
        with Store.open(config.db_url) as store:
            log = store.log(config.origin)
            size = 0
            for target in (*SIGNED, SIGNED[-1] + UNSIGNED):
                while size < target:
                    step = min(target - size, 10_000)
                    log.append([prepare(e) for e in _events(size, step)])
                    size += step
                if target in SIGNED:
                    assert sign_checkpoint(config, log).tree_size == target
        return Site(root, ws, config)


@pytest.fixture(scope="module")
def base(pod: Site) -> Iterator[str]:
    def argv(port: int) -> list[str]:
        return ["--workspace", str(pod.ws), "serve", "--port", str(port), "--no-pdf"]

    with serving(argv, pod.root, ready="/checkpoint") as served:
        yield served.url


@pytest.fixture(scope="module")
def http(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10) as c:
        yield c


def _getter(http: httpx.Client) -> Callable[[str], bytes]:
    def get(path: str) -> bytes:
        r = http.get("/" + path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/octet-stream"
        return r.content

    return get


def _note(http: httpx.Client, pod: Site, size: int) -> Note:
    if size == SIGNED[-1]:
        r = http.get("/checkpoint")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        text = r.text
    else:  # an older signed size: its note from the consistency proof endpoint
        text = http.get("/api/v1/proof/consistency", params={"old": size}).json()["old_checkpoint"]
    note = open_note(text, pod.config.verifier_key)
    assert note.origin == pod.config.origin
    assert note.size == size
    return note


# -- tests ---------------------------------------------------------------------------------


def test_the_checkpoint_is_the_latest_signed_one(http: httpx.Client, pod: Site) -> None:
    r = http.get("/checkpoint")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=1"
    assert _note(http, pod, SIGNED[-1]).size == 70_000  # not the 70 005 stored


@pytest.mark.parametrize("size", SIGNED)
def test_root_from_tiles_equals_the_signed_root(http: httpx.Client, pod: Site, size: int) -> None:
    note = _note(http, pod, size)
    assert root_from_tiles(size, _getter(http)) == note.root


def test_every_tile_of_every_signed_size_is_served_and_consistent(
    http: httpx.Client, pod: Site
) -> None:
    get = _getter(http)
    for size in SIGNED:
        note = _note(http, pod, size)
        level0 = b"".join(get(tile_path(0, n, w)) for n, w in _widths(size, 0))
        leaves = [level0[i : i + 32] for i in range(0, len(level0), 32)]
        assert len(leaves) == size
        assert mth(leaves) == note.root
        # every hash of a tile above level 0 is the root of a full tile of the level below
        level = 1
        while size >> (8 * level):
            for n, width in _widths(size, level):
                tile = get(tile_path(level, n, width))
                for i in range(width):
                    below = get(tile_path(level - 1, n * 256 + i, 256))
                    hashes = [below[j : j + 32] for j in range(0, 8192, 32)]
                    assert tile[32 * i : 32 * i + 32] == mth(hashes)
            level += 1
    # the spec's example shapes: 70 000 is 273 full level-0 tiles, .p/112, one full level-1
    # tile, level-1 .p/17 and level-2 .p/1
    assert _widths(70_000, 0)[-2:] == [(272, 256), (273, 112)]
    assert _widths(70_000, 1) == [(0, 256), (1, 17)]
    assert _widths(70_000, 2) == [(0, 1)]
    assert http.get("/" + tile_path(3, 0, 1)).status_code == 404


def _widths(size: int, level: int) -> list[tuple[int, int]]:
    count = size >> (8 * level)
    out = [(n, 256) for n in range(count // 256)]
    return out + ([(count // 256, count % 256)] if count % 256 else [])


def test_cache_headers(http: httpx.Client) -> None:
    full = http.get("/tile/0/000")
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(full.content) == 8192
    part = http.get("/tile/0/003.p/232")  # size 1000
    assert part.status_code == 200
    assert part.headers["cache-control"] == "public, max-age=60"
    assert part.content == http.get("/tile/0/003").content[: 232 * 32]


def test_nothing_beyond_the_signed_size(http: httpx.Client) -> None:
    assert http.get("/tile/0/273.p/112").status_code == 200
    # stored but not signed: 70 005 entries in the store
    assert http.get("/tile/0/273.p/113").status_code == 404
    assert http.get("/tile/0/273").status_code == 404
    assert http.get("/tile/0/274.p/1").status_code == 404
    assert http.get("/tile/1/001").status_code == 404
    assert http.get("/tile/1/001.p/18").status_code == 404
    assert http.get("/tile/2/000.p/2").status_code == 404
    assert http.get("/tile/0/x001/000").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/tile/00/000",
        "/tile/64/000",
        "/tile/-1/000",
        "/tile/0/0",
        "/tile/0/0000",
        "/tile/0/x000/005",
        "/tile/0/001/002",
        "/tile/0/y001/002",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/05",
        "/tile/0/000.p/",
        "/tile/0/000.p",
        "/tile/0/000/",
        "/tile/0//000",
        "/tile/0/00a",
        "/tile/0/\u0661\u0662\u0663",
        "/tile/0",
        "/tile/",
    ],
)
def test_bad_paths(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code in (400, 404), (path, r.status_code)
    assert r.json()["error"]["status"] == r.status_code


def test_entry_bundles_need_an_officer_or_auditor(http: httpx.Client, pod: Site) -> None:
    path = "/tile/entries/003.p/232"
    r = http.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert b"auth.logon" not in r.content
    for role, tenant in (("tenant", "fintech-a"), ("security", None)):
        r = http.get(path, headers=_bearer(pod.token(role, tenant)))
        assert r.status_code == 403, (role, r.text)
        assert b"auth.logon" not in r.content
    for role in ("auditor", "officer"):
        r = http.get(path, headers=_bearer(pod.token(role)))
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "private, max-age=60"
        entries = split_bundle(r.content)
        assert len(entries) == 232
        tile = http.get("/tile/0/003.p/232").content
        assert b"".join(map(leaf, entries)) == tile
    auditor = _bearer(pod.token("auditor"))
    r = http.get("/tile/entries/x001/000", headers=auditor)  # tile 1000 is not signed
    assert r.status_code == 404
    r = http.get("/tile/entries/273.p/113", headers=auditor)  # stored, not signed
    assert r.status_code == 404
    r = http.get("/tile/entries/273.p/112", headers=auditor)
    assert r.status_code == 200
    assert b"".join(map(leaf, split_bundle(r.content))) == http.get("/tile/0/273.p/112").content
    r = http.get("/tile/entries/001", headers=auditor)
    assert r.headers["cache-control"] == "private, max-age=31536000, immutable"
    entries = split_bundle(r.content)
    assert len(entries) == 256
    assert b"".join(map(leaf, entries)) == http.get("/tile/0/001").content
    assert http.get("/tile/entries/0/000", headers=auditor).status_code == 400
    # compressed when the client accepts it (httpx asks for gzip and decodes), plain otherwise
    assert r.headers["content-encoding"] == "gzip"
    plain = http.get("/tile/entries/001", headers={**auditor, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == r.content
    gz = {**auditor, "Accept-Encoding": "gzip;q=0, identity"}
    assert "content-encoding" not in http.get("/tile/entries/001", headers=gz).headers


def test_entry_bundle_reads_are_recorded(http: httpx.Client, pod: Site) -> None:
    token = pod.token("auditor")
    r = http.get("/tile/entries/002", headers=_bearer(token))
    assert r.status_code == 200
    with Store.open(pod.config.db_url) as store, store.log(pod.config.origin).reader() as rd:
        size = rd.head()[0]
        found = [
            json.loads(body)
            for _, body, _, _ in rd.iter_entries(SIGNED[-1] + UNSIGNED)
            if b"access.read" in body
        ]
    assert size > SIGNED[-1] + UNSIGNED
    mine = [e for e in found if e["what"] == "entry bundle tile/entries/002"]
    assert len(mine) == 1
    assert mine[0]["role"] == "auditor"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_bundle_framing_is_uint16_big_endian() -> None:
    from edgeaudit.merkle.c2sp import bundle

    assert bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    assert split_bundle(bundle([b"x" * 300])) == [b"x" * 300]
    with pytest.raises(ValueError, match="65535"):
        bundle([b"x" * 65_536])


def test_fast_answers_equal_the_frameworks(pod: Site) -> None:
    """The layer in front of the framework answers hash tiles and /checkpoint exactly as the
    routes do (body, content type, cache), and leaves everything else to them."""
    service = make_service(pod.config, settings(pod))
    try:
        with (
            TestClient(asgi(service), raise_server_exceptions=False) as fast,
            TestClient(create_app(service, pages=False), raise_server_exceptions=False) as slow,
        ):
            paths = ["/checkpoint", "/tile/0/000", "/tile/0/003.p/232", "/tile/1/000"]
            paths += ["/tile/2/000.p/1", "/tile/0/273", "/tile/0/0", "/tile/entries/000"]
            for path in paths:
                a, b = fast.get(path), slow.get(path)
                assert (a.status_code, a.content) == (b.status_code, b.content), path
                assert a.headers["content-type"] == b.headers["content-type"], path
                if a.status_code == 200:  # errors: the edge layer's no-store (not in slow)
                    assert a.headers["cache-control"] == b.headers["cache-control"], path
                else:
                    assert a.headers["cache-control"] == "no-store", path
            assert fast.get("/tile/0/000").headers["cache-control"].endswith("immutable")
    finally:
        service.close()


def test_a_damaged_store_never_serves_a_tile(tmp_path: Path) -> None:
    """A store tile missing under a signed tree: the tiles that need it are a 500 with an error
    id, never a short or made-up tile; the others are still served."""
    import sqlite3

    ws = tmp_path / "ws"
    assert run("--workspace", str(ws), "init", "--site", "damaged-pod")[0] == 0
    shutil.copytree(POLICIES, ws / "policies")
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        log.append([prepare(e) for e in _events(0, 600)])
        sign_checkpoint(config, log)
    db = sqlite3.connect(config.db_url.removeprefix("sqlite:///"))
    with db:
        db.execute("DELETE FROM tiles WHERE level = 0 AND tidx = 17")  # leaves 272..287
    db.close()
    service = make_service(config, settings(Site(tmp_path, ws, config)))
    try:
        with TestClient(asgi(service), raise_server_exceptions=False) as c:
            want = {"/tile/0/000": 200, "/tile/0/001.p/16": 200, "/tile/1/000.p/2": 200}
            want |= {"/tile/0/001.p/17": 500, "/tile/0/001": 500}
            for path, status in want.items():
                assert c.get(path).status_code == status, path
            r = c.get("/tile/0/001")
            assert "error id" in r.json()["error"]["message"]
            assert r.headers["cache-control"] == "no-store"
    finally:
        service.close()


def test_accept_encoding() -> None:
    from edgeaudit.serve.tiles import accepts_gzip

    assert accepts_gzip("gzip, identity")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("gzip;q=zero")
    assert not accepts_gzip("gzipx, deflate")


def test_nothing_is_published_before_a_checkpoint_is_signed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("--workspace", str(ws), "init", "--site", "new-pod")[0] == 0
    shutil.copytree(POLICIES, ws / "policies")
    config = cfg.load(ws)
    with Store.open(config.db_url) as store:
        store.log(config.origin).append([prepare(e) for e in _events(0, 300)])
    service = make_service(config, settings(Site(tmp_path, ws, config)))
    try:
        with TestClient(asgi(service), raise_server_exceptions=False) as c:
            for path in ("/checkpoint", "/tile/0/000", "/tile/0/000.p/1", "/tile/1/000.p/1"):
                r = c.get(path)
                assert r.status_code == 404, path
                assert r.headers["cache-control"] == "no-store"
    finally:
        service.close()
