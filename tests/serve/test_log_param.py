"""The API's ``log`` parameter over a central workspace holding two mirrored pods' logs.

The campus is the one of ``--log`` (tests/cli/test_log_option.py): real pod workspaces with
their own keys, their logs copied into the central SQLite store through ``Store.mirror`` with
their signed checkpoints held, named in ``[[mirror]]`` tables. Requests go through the real
ASGI app (edge layer, fast paths, framework).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient

from edgeaudit.errors import NoteError
from edgeaudit.merkle.verify import verify_consistency, verify_inclusion
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from edgeaudit.serve.app import asgi
from edgeaudit.serve.fastpath import FastPublic
from edgeaudit.serve.log_tiles import prefix
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.cli import clean_env
from tests.cli.test_log_option import CENTRAL, EAST, NORTH, SOUTH, _Quiet, build_campus
from tests.serve.conftest import POLICIES, Site, bearer, settings

WEST = "pods.example.net/west"  # held by the central store, but not a [[mirror]]
Q = "2026Q3"
UNTRUSTED = "no signature from a trusted key"


@dataclass(frozen=True)
class Central:
    site: Site
    service: Service
    client: TestClient
    pod_keys: dict[str, str]

    def token(self, role: str, tenant: str | None = None) -> dict[str, str]:
        return bearer(self.site.token(role, tenant))

    def own_size(self) -> int:
        with Store.open(self.site.config.db_url) as store:
            return store.log(CENTRAL).head()[0]


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    root = tmp_path_factory.mktemp("logparam")
    with pytest.MonkeyPatch.context() as mp:
        clean_env(mp)
        campus = build_campus(root, "sqlite", _Quiet())
        config = campus.config
        with Store.open(config.db_url) as store:  # a log held but neither own nor mirrored
            store.mirror(WEST, create=True)
        site = Site(root, root / "central", config)
        service = make_service(config, settings(site, policies=POLICIES))
        keys = {o: campus.key(o) for o in (NORTH, SOUTH)}
        try:
            with TestClient(asgi(service), raise_server_exceptions=False) as client:
                yield Central(site, service, client, keys)
        finally:
            service.close()


def _q(origin: str) -> str:
    return quote(origin, safe="")


def _verified(note: str, key: str, origin: str) -> Any:
    return verify_checkpoint(note.encode(), [Verifier.parse(key)], origin=origin)


@pytest.mark.parametrize(("origin", "size", "old"), [(NORTH, 9, 6), (SOUTH, 3, 3)])
def test_proofs_per_origin_verify_with_the_pods_key(
    central: Central, origin: str, size: int, old: int
) -> None:
    c, key = central.client, central.pod_keys[origin]
    cp = c.get(f"/api/v1/checkpoint?log={_q(origin)}").json()
    assert (cp["origin"], cp["tree_size"], cp["verifier_key"]) == (origin, size, key)
    signed = _verified(cp["note"], key, origin)
    with pytest.raises(NoteError, match=UNTRUSTED):  # the central key does not sign it
        _verified(cp["note"], central.site.config.verifier_key, origin)
    assert c.get(f"/api/v1/checkpoint.txt?log={_q(origin)}").text == cp["note"]
    keys = c.get(f"/api/v1/keys?log={_q(origin)}").json()
    assert (keys["origin"], keys["role"], keys["verifier_key"]) == (origin, "mirror", key)

    for index in (0, size - 1):
        proof = c.get(f"/api/v1/proof/inclusion/{index}?log={_q(origin)}").json()
        assert proof["checkpoint"] == cp["note"]
        path = [bytes.fromhex(h) for h in proof["proof"]]
        verify_inclusion(bytes.fromhex(proof["leaf_hash"]), index, size, path, signed.root)
    cons = c.get(f"/api/v1/proof/consistency?old={old}&log={_q(origin)}").json()
    first = _verified(cons["old_checkpoint"], key, origin)
    verify_consistency(
        first.size, signed.size, first.root, signed.root, [bytes.fromhex(h) for h in cons["proof"]]
    )
    # the raw '/' form of the origin is the same parameter
    assert c.get(f"/api/v1/checkpoint?log={origin}").json() == cp

    own = c.get("/api/v1/checkpoint").json()
    assert own["origin"] == CENTRAL
    assert c.get(f"/api/v1/checkpoint?log={_q(CENTRAL)}").json() == own
    with pytest.raises(NoteError, match=UNTRUSTED):  # the pod's key does not sign the central's
        _verified(own["note"], key, CENTRAL)


def test_unknown_origin_is_a_404_naming_nothing_else(central: Central) -> None:
    c = central.client
    officer = central.token("officer")
    for origin in (EAST, WEST, "x" * 255):
        for path, headers in (
            ("/api/v1/checkpoint", {}),
            ("/api/v1/checkpoint.txt", {}),
            ("/api/v1/keys", {}),
            ("/api/v1/proof/inclusion/0", {}),
            ("/api/v1/proof/consistency?old=1", {}),
            ("/api/v1/probe-runs", officer),
        ):
            sep = "&" if "?" in path else "?"
            r = c.get(f"{path}{sep}log={_q(origin)}", headers=headers)
            assert r.status_code == 404, (path, origin, r.text)
            message = r.json()["error"]["message"]
            assert message == f"no log {origin[:100]!r} is served here", message
            for other in (CENTRAL, NORTH, SOUTH, WEST, EAST):
                assert other == origin or other not in r.text, (path, r.text)
    assert c.get("/api/v1/checkpoint?log=").status_code == 422
    assert c.get(f"/api/v1/checkpoint?log={'x' * 256}").status_code == 422


def test_logs_are_listed_to_officers_and_auditors_only(central: Central) -> None:
    c = central.client
    for role in ("officer", "auditor"):
        r = c.get("/api/v1/logs", headers=central.token(role))
        assert r.status_code == 200, r.text
        listed = {x["origin"]: x for x in r.json()["logs"]}
        assert set(listed) == {CENTRAL, NORTH, SOUTH}  # WEST is held but not served
        assert listed[NORTH]["verifier_key"] == central.pod_keys[NORTH]
        assert (listed[NORTH]["role"], listed[NORTH]["latest_checkpoint"]) == ("mirror", 9)
        assert listed[CENTRAL]["verifier_key"] == central.site.config.verifier_key
    assert c.get("/api/v1/logs", headers=central.token("security")).status_code == 403
    assert c.get("/api/v1/logs", headers=central.token("tenant", "fintech-a")).status_code == 403
    assert c.get("/api/v1/logs").status_code == 401


def test_writes_exports_assessments_and_tiles_refuse_another_log(central: Central) -> None:
    c = central.client
    officer = central.token("officer")
    before = central.own_size()
    jobs = len(central.service.jobs.all())
    with Store.open(central.site.config.db_url) as store:
        pods = {o: store.log(o).head()[0] for o in (NORTH, SOUTH)}
    for origin in (NORTH, EAST):  # a mirror and an unknown origin: the same answer
        for method, path in (
            ("POST", "/api/v1/exports"),
            ("GET", f"/api/v1/findings?period={Q}"),
            ("GET", f"/api/v1/assessments?period={Q}"),
            ("GET", "/checkpoint"),
            ("GET", "/tile/0/000.p/3"),
            ("GET", "/tile/entries/000.p/3"),
        ):
            sep = "&" if "?" in path else "?"
            body = {"period": Q} if method == "POST" else None
            r = c.request(method, f"{path}{sep}log={_q(origin)}", json=body, headers=officer)
            assert r.status_code == 400, (path, r.text)
            message = r.json()["error"]["message"]
            assert "own log only" in message
            assert origin not in message
    r = c.post("/api/v1/exports", json={"period": Q, "log": NORTH}, headers=officer)
    assert r.status_code == 422
    assert central.own_size() == before  # nothing recorded, nothing queued
    assert len(central.service.jobs.all()) == jobs
    with Store.open(central.site.config.db_url) as store:
        assert {o: store.log(o).head()[0] for o in (NORTH, SOUTH)} == pods
    # naming the own log is the default, accepted everywhere
    r = c.get(f"/api/v1/findings?period={Q}&log={_q(CENTRAL)}", headers=officer)
    assert r.status_code == 200, r.text
    assert c.get(f"/checkpoint?log={_q(CENTRAL)}").text == c.get("/checkpoint").text


def test_tenant_tokens_see_nothing_more_in_any_log(central: Central) -> None:
    c = central.client
    tenant = central.token("tenant", "fintech-a")
    for origin in (NORTH, CENTRAL):
        assert c.get(f"/api/v1/probe-runs?log={_q(origin)}", headers=tenant).status_code == 403
    r = c.get(f"/api/v1/findings?period={Q}&log={_q(NORTH)}", headers=tenant)
    assert r.status_code == 400
    r = c.get(f"/api/v1/findings?period={Q}&tenant=media-b&log={_q(CENTRAL)}", headers=tenant)
    assert r.status_code == 403
    r = c.get("/tile/entries/000.p/3", headers=tenant)
    assert r.status_code == 403
    r = c.get(f"/api/v1/findings?period={Q}", headers=tenant)
    assert r.status_code == 200, r.text


def _access_reads(db_url: str) -> list[dict[str, Any]]:
    with Store.open(db_url) as store, store.log(CENTRAL).reader() as reader:
        size, _ = reader.head()
        return [orjson.loads(b) for _, b, _ in reader.select(["access.read"], None, None, size)]


def test_reads_are_recorded_in_the_own_log_naming_the_origin(central: Central) -> None:
    c = central.client
    db = central.site.config.db_url
    with Store.open(db) as store:
        north_size = store.log(NORTH).head()[0]
    r = c.get(f"/api/v1/probe-runs?log={_q(NORTH)}", headers=central.token("auditor"))
    assert r.status_code == 200, r.text
    assert r.json()["runs"] == []  # the pod recorded no probe run
    last = _access_reads(db)[-1]
    assert (last["what"], last["log"], last["role"]) == ("probe runs", NORTH, "auditor")
    r = c.get("/api/v1/probe-runs", headers=central.token("officer"))
    assert r.status_code == 200
    last = _access_reads(db)[-1]
    assert (last["log"], last["role"]) == (CENTRAL, "officer")
    with Store.open(db) as store:
        assert store.log(NORTH).head()[0] == north_size  # never written


async def _call(app: Any, path: str, query: bytes) -> tuple[list[dict[str, Any]], bool]:
    sent: list[dict[str, Any]] = []
    passed = False

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        nonlocal passed
        passed = True

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query}
    await FastPublic(inner, app)(scope, receive, send)
    return sent, passed


def test_the_fast_path_honours_log(central: Central) -> None:
    logs = central.service.logs
    north = central.service.logs.public(NORTH)
    for query in (f"log={_q(NORTH)}".encode(), f"log={NORTH}".encode()):
        sent, passed = asyncio.run(_call(logs, "/api/v1/checkpoint", query))
        assert not passed  # answered by the fast path ...
        assert orjson.loads(sent[1]["body"]) == north.checkpoint()  # ... for the pod's log
    sent, passed = asyncio.run(
        _call(logs, "/api/v1/proof/inclusion/7", f"tree_size=9&log={_q(NORTH)}".encode())
    )
    assert not passed
    assert orjson.loads(sent[1]["body"]) == north.inclusion(7, 9)
    sent, passed = asyncio.run(
        _call(logs, "/api/v1/proof/consistency", f"log={_q(NORTH)}&old=6".encode())
    )
    assert not passed
    assert orjson.loads(sent[1]["body"])["new_checkpoint"].startswith(f"{NORTH}\n9\n")
    # an unknown log, a repeated or empty one: the framework answers (404 / 422), never the
    # fast path with another log's data
    for path, query in (
        ("/api/v1/checkpoint", f"log={_q(EAST)}"),
        ("/api/v1/checkpoint", f"log={_q(NORTH)}&log={_q(SOUTH)}"),
        ("/api/v1/checkpoint.txt", "log="),
        ("/api/v1/proof/inclusion/0", f"log={_q(WEST)}"),
    ):
        sent, passed = asyncio.run(_call(logs, path, query.encode()))
        assert passed, (path, query)
        assert not sent, (path, query)
    # end to end: every layer gives the same answer for each origin
    c = central.client
    for origin in (NORTH, SOUTH, CENTRAL):
        served = central.service.logs.public(origin)
        r = c.get(f"/api/v1/proof/inclusion/1?log={_q(origin)}")
        assert r.json() == served.inclusion(1, None)
        note = served.checkpoint()["note"]
        assert c.get(f"/api/v1/checkpoint.txt?log={_q(origin)}").text == note
    r = c.get(f"/api/v1/checkpoint?log={_q(NORTH)}&log={_q(SOUTH)}")
    assert r.status_code in (200, 422)  # the framework's choice; never the fast path's mix
    if r.status_code == 200:
        assert r.json()["origin"] in (NORTH, SOUTH)


def test_a_mirror_added_while_serving_is_served_and_one_removed_is_not(
    central: Central,
) -> None:
    c = central.client
    path = central.site.config.root / cfg.CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    assert c.get(f"/api/v1/keys?log={_q(SOUTH)}").status_code == 200
    south = text.index("[[mirror]]", text.index("[[mirror]]") + 1)  # the second table
    assert central.pod_keys[SOUTH] in text[south:]
    try:
        path.write_text(text[:south], encoding="utf-8")  # SOUTH's table removed
        assert c.get(f"/api/v1/keys?log={_q(SOUTH)}").status_code == 404
        assert c.get(f"/api/v1/keys?log={_q(NORTH)}").status_code == 200
    finally:
        path.write_text(text, encoding="utf-8")
    assert c.get(f"/api/v1/keys?log={_q(SOUTH)}").status_code == 200


@pytest.fixture(scope="module")
def pods(central: Central) -> Iterator[dict[str, tuple[TestClient, Site]]]:
    """Each pod's own service, over the pod's own store: what it publishes itself."""
    out: dict[str, tuple[TestClient, Site]] = {}
    with contextlib.ExitStack() as stack:
        for origin in (NORTH, SOUTH):
            ws = central.site.root / origin.rsplit("/", 1)[-1]
            site = Site(ws, ws, cfg.load(ws))
            service = make_service(site.config, settings(site, policies=POLICIES))
            stack.callback(service.close)
            client = stack.enter_context(TestClient(asgi(service), raise_server_exceptions=False))
            out[origin] = (client, site)
        yield out


def test_mirrored_logs_tiles_are_the_pods_under_their_own_prefix(
    central: Central, pods: dict[str, tuple[TestClient, Site]]
) -> None:
    c = central.client
    officer = central.token("officer")
    plain = {"Accept-Encoding": "identity"}
    for origin, size in ((NORTH, 9), (SOUTH, 3)):
        pod, pod_site = pods[origin]
        base = prefix(origin)
        assert base == f"/logs/{hashlib.sha256(origin.encode()).hexdigest()}"
        assert c.get(f"{base}/checkpoint").text == pod.get("/checkpoint").text
        for tile in (f"/tile/0/000.p/{size}", f"/tile/1/000.p/{size // 256 + 1}"):
            mine, theirs = c.get(base + tile), pod.get(tile)
            if theirs.status_code != 200:  # not a tile of this size: the same answer here
                assert mine.status_code == theirs.status_code, tile
                continue
            assert mine.status_code == 200, (tile, mine.text)
            assert mine.content == theirs.content, tile
            assert mine.headers["cache-control"] == theirs.headers["cache-control"]
        assert c.get(f"{base}/tile/0/000.p/{size + 1}").status_code == 404  # beyond signed
        entries = f"/tile/entries/000.p/{size}"
        pod_officer = bearer(pod_site.token("officer"))
        mine = c.get(base + entries, headers={**officer, **plain})
        assert mine.status_code == 200, mine.text
        assert mine.content == pod.get(entries, headers={**pod_officer, **plain}).content
        last = _access_reads(central.site.config.db_url)[-1]
        assert (last["what"], last["log"]) == (f"entry bundle {entries[1:]}", origin)
        assert c.get(base + entries).status_code == 401
        tenant = central.token("tenant", "fintech-a")
        assert c.get(base + entries, headers=tenant).status_code == 403
    own = prefix(CENTRAL)
    assert c.get(f"{own}/checkpoint").text == c.get("/checkpoint").text
    assert c.get(f"{own}/tile/0/000.p/3").content == c.get("/tile/0/000.p/3").content
    for hashed in (prefix(EAST), prefix(WEST), "/logs/nothex", f"/logs/{'0' * 64}"):
        r = c.get(f"{hashed}/checkpoint")
        assert r.status_code == 404, (hashed, r.text)
        assert r.json()["error"]["message"].startswith("no log ")
        for other in (CENTRAL, NORTH, SOUTH, WEST, EAST):
            assert other not in r.text
    listed = c.get("/api/v1/logs", headers=officer).json()["logs"]
    assert {x["origin"]: x["tiles"] for x in listed} == {
        o: prefix(o) for o in (CENTRAL, NORTH, SOUTH)
    }
