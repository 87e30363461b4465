"""The mirror under attack: a pod (or a man in the middle) that controls every HTTP answer, and
a careless operator. What must hold whatever they do: nothing is stored that is not proven
against a checkpoint signed by the registered key, held history is never overwritten, a
refusal is clear and has the right exit code (1: the pod's data does not prove out or
contradicts what is held; 3: the pod did not answer usably, try again; 2: a bad argument,
nothing written), the token never shows up in output, logs or files, and a process killed at
any moment loses nothing and leaves no half-stored batch.

Most attacks are made by :mod:`tests.mirror.hostile`, an HTTP server of the test's own that
publishes a log signed with a key the test registers; the crash and concurrency tests use a
real ``edgeaudit serve`` pod and real ``edgeaudit mirror sync`` processes.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from edgeaudit.merkle.c2sp import TileRef
from edgeaudit.mirror.state import MirrorFiles
from edgeaudit.note.signer import generate
from edgeaudit.workspace import config as cfg
from tests.mirror.conftest import Campus, Pod, central, mirrored
from tests.mirror.hostile import Answer, HostileLog, HostilePod, event_entries
from tests.pack.helpers import run

ORIGIN = "hostile.example/pod-h"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LW1pcnJvci10b2tlbg.SECRET-SIGNATURE-4f2a9c"
SIZE = 600  # tiles 0/000, 0/001 full, 0/002.p/88, 1/000.p/2


@dataclass
class Setup:
    ws: Path
    pod: HostilePod
    log: HostileLog

    def sync(self, *extra: str) -> tuple[int, dict[str, object], str, str]:
        verbose = [x for x in extra if x == "-v"]
        extra = tuple(x for x in extra if x != "-v")
        argv = ["--workspace", str(self.ws), *verbose, "--json", "mirror", "sync", *extra]
        code, out, err = run(*argv)
        result = json.loads(out.strip().splitlines()[-1])
        assert result["exit_code"] == code
        return code, result["mirrors"][0], out, err

    def held(self) -> tuple[int, int, list[bytes]]:
        return mirrored(self.ws, ORIGIN)

    def answer(self, path: str, answer: Answer) -> None:
        """Answer ``path`` with ``answer`` from now on (every other path honestly)."""
        self.pod.hook = lambda p, _h: answer if p == path else None


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    monkeypatch.setenv("HOSTILE_TOKEN", TOKEN)
    log = HostileLog(generate(ORIGIN), event_entries("h", 900))
    pod = HostilePod(log, SIZE)
    ws = central(tmp_path)
    argv = ["mirror", "add", pod.url, "--key", log.vkey, "--token-env", "HOSTILE_TOKEN"]
    code, _, err = run("--workspace", str(ws), *argv)
    assert code == 0, err
    try:
        yield Setup(ws, pod, log)
    finally:
        pod.close()


def no_pending(ws: Path) -> bool:
    return MirrorFiles(ws, ORIGIN).pending() is None


def test_checkpoints_that_lie_are_refused(hostile: Setup) -> None:
    log = hostile.log
    other_key = generate(ORIGIN)  # the same name, another key
    lines = log.note(SIZE).split(b"\n")
    missing_line = b"\n".join([lines[0], *lines[2:]])  # the size line dropped, signature kept
    other_root = b"\n".join([*lines[:2], base64.b64encode(log.root(SIZE - 1)), *lines[3:]])

    def endless(w: BinaryIO) -> None:  # a chunked body that never ends
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(10_000):
                w.write(b"10000\r\n" + b"a" * 0x10000 + b"\r\n")
        except OSError:
            pass

    bomb = gzip.compress(b"\n" * (1 << 20))  # 1 MiB of newlines in 1 KiB (the cap: 64 KiB)
    cases = [
        ("another key", Answer(200, log.note(SIZE, signer=other_key)), 1, "no signature"),
        ("another origin", Answer(200, log.note(SIZE, origin="x.example/y")), 1, "origin"),
        ("size line missing", Answer(200, missing_line), 1, "does not verify"),
        ("root changed", Answer(200, other_root), 1, "does not verify"),
        ("not UTF-8", Answer(200, b"\xff\xfe" + log.note(SIZE)), 1, "UTF-8"),
        ("empty", Answer(200, b""), 1, "does not verify"),
        ("huge", Answer(200, b"x", {"Content-Length": str(1 << 40)}), 3, "body over"),
        ("endless", Answer(writer=endless), 3, "body over"),
        ("gzip bomb", Answer(200, bomb, {"Content-Encoding": "gzip"}), 3, "over 65536"),
        ("brotli", Answer(200, b"x", {"Content-Encoding": "br"}), 3, "Content-Encoding"),
    ]
    for name, answer, want, words in cases:
        hostile.answer("checkpoint", answer)
        began = time.monotonic()
        code, got, _, _ = hostile.sync()
        assert (code, got["status"]) == (want, "refused" if want == 1 else "error"), (name, got)
        assert words in str(got["message"]), (name, got)
        assert time.monotonic() - began < 15, name  # a body is never read past its cap
        assert hostile.held()[:2] == (0, 0), name
        assert no_pending(hostile.ws), name
    hostile.pod.hook = None
    code, got, _, _ = hostile.sync()
    assert (code, got["status"]) == (0, "synced")
    assert hostile.held() == (SIZE, SIZE, log.entries[:SIZE])


def test_a_rollback_or_fork_signed_with_the_pods_key_never_replaces_what_is_held(
    hostile: Setup,
) -> None:
    log = hostile.log
    assert hostile.sync()[0] == 0
    before = hostile.held()
    note = log.note(SIZE).decode()

    # an older checkpoint the key really signed (a pod restored from a backup, a replay):
    # a rollback, exit 1, nothing changes
    hostile.pod.serve(log, 300)
    code, got, _, _ = hostile.sync()
    assert (code, got["status"]) == (1, "rollback"), got
    assert "size 300, older than the 600 held" in str(got["message"]), got
    assert hostile.held() == before

    # the same size, another root, signed by the pod's key: a fork, kept as proof
    other = HostileLog(log.signer, event_entries("rewritten", SIZE))
    hostile.pod.serve(other, SIZE)
    code, got, _, _ = hostile.sync("-v")
    assert (code, got["status"]) == (1, "fork"), got
    assert hostile.held() == before
    proof = Path(str(got["fork_proof"]))
    assert stat.S_IMODE(proof.stat().st_mode) == 0o600
    text = proof.read_text()
    assert note in text
    assert other.note(SIZE).decode() in text
    code, got, _, _ = hostile.sync()
    assert (code, got["status"]) == (1, "stopped"), got
    code, out, _ = run("--workspace", str(hostile.ws), "mirror", "list")
    assert code == 1
    assert "FORK" in out

    # the honest log back, the proof moved aside by the operator: synced on from what is held
    resolved = proof.parent / "resolved"
    resolved.mkdir()
    proof.rename(resolved / proof.name)
    hostile.pod.serve(log, 900)
    code, got, _, _ = hostile.sync()
    assert (code, got["status"], got["stored"]) == (0, "synced", 300), got
    assert hostile.held() == (900, 900, log.entries)


def _flip(data: bytes, at: int = -1) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


def test_hash_tiles_that_do_not_prove_the_signed_root_are_refused(hostile: Setup) -> None:
    log = hostile.log
    honest = log.resources(SIZE)
    partial, top = "tile/0/002.p/88", "tile/1/000.p/2"
    # a log of the same size with other entries: its tiles hang together, under another root
    other = HostileLog(log.signer, event_entries("other", SIZE)).resources(SIZE)
    cases = [
        (partial, _flip(honest[partial]), "not the signed root"),
        (partial, honest[partial][:-32], "2784 bytes"),  # a partial tile of the wrong width
        (partial, log.tile(TileRef(0, 2, 256)), "8192 bytes"),  # full where partial is due
        (top, other[top], "not the signed root"),
        (top, honest[top][:32], "bytes"),
        ("tile/0/001", _flip(honest["tile/0/001"], 100), "tile/0/001"),  # a full tile
        ("tile/0/001", other["tile/0/001"], "tile/0/001"),
        ("tile/0/001", honest["tile/0/001"][:-32], "tile/0/001"),
    ]
    for path, body, words in cases:
        hostile.answer(path, Answer(200, body))
        code, got, _, _ = hostile.sync("--batch", "256")
        assert (code, got["status"]) == (1, "refused"), (path, got)
        assert words in str(got["message"]), (path, got)
        held, stored, copied = hostile.held()
        # tile 0/000 is proven by its parent before 0/001 is read: its entries may be stored
        assert held == 0, path
        assert stored in (0, 256), path
        assert copied == log.entries[:stored], path
        if path != "tile/0/001":
            assert stored == 0, path
    hostile.pod.hook = None
    assert hostile.sync()[0] == 0
    assert hostile.held() == (SIZE, SIZE, log.entries[:SIZE])


def test_entry_bundles_that_lie_are_refused(hostile: Setup) -> None:
    log = hostile.log
    b0 = log.resources(SIZE)["tile/entries/000"]
    first = b0[2 : 2 + int.from_bytes(b0[:2], "big")]
    altered = b0.replace(b'"n":1,', b'"n":7,', 1)
    assert altered != b0
    bomb = gzip.compress(b"\0" * (17 << 20), 1)  # 17 MiB in 76 KiB (a bundle's cap: 16 MiB)
    cases = [
        (b0 + b"\x00\x01x", 1, "257 entries"),  # an extra entry
        (b0 + b"\x00", 1, "length prefix"),  # trailing byte: a truncated length prefix
        (b0[:-5], 1, "ends inside entry 255"),  # the last entry cut short
        (b0[: -(len(b0) // 2)], 1, "ends inside"),
        (b"\x00\x00" + b0[2 + len(first) :], 1, "entry 0 does not hash"),  # 0-length entry
        (altered, 1, "entry 1 does not hash"),
        (b"", 1, "0 entries"),
        (bomb, 3, "inflated body is over"),
    ]
    for body, want, words in cases:
        headers = {"Content-Encoding": "gzip"} if body is bomb else {}
        hostile.answer("tile/entries/000", Answer(200, body, headers))
        code, got, _, _ = hostile.sync()
        assert code == want, (words, got)
        assert words in str(got["message"]), (words, got)
        assert hostile.held()[:2] == (0, 0), words
    # gzip accepted when it inflates to exactly the bundle; not with bytes after its end
    for body, want in ((gzip.compress(b0) + b"junk", 3), (gzip.compress(b0), 0)):
        hostile.answer("tile/entries/000", Answer(200, body, {"Content-Encoding": "gzip"}))
        code, got, _, _ = hostile.sync()
        assert code == want, got
    assert hostile.held() == (SIZE, SIZE, log.entries[:SIZE])


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b'{"kind": "auth.logon"}',
        b"\xff not JSON",
        b'{"kind":"x","time":"2026-11-01T00:00:00Z"} ',
    ],
    ids=["empty", "not-canonical", "not-json", "trailing-space"],
)
def test_signed_entries_the_store_would_not_append_are_refused(hostile: Setup, bad: bytes) -> None:
    """The pod's key signed a tree holding an entry that is no event (its leaf hash matches):
    refused (exit 1) naming it, the proven batches before it stored, nothing of its batch."""
    log = hostile.log
    entries = list(log.entries)
    entries[300] = bad
    hostile.pod.serve(HostileLog(log.signer, entries), SIZE)
    for _ in range(2):  # and again: the same refusal, nothing more stored
        code, got, _, _ = hostile.sync("--batch", "256")
        assert (code, got["status"]) == (1, "refused"), got
        assert "entry 300" in str(got["message"]), got
        assert hostile.held() == (0, 256, entries[:256])


def _everything(ws: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(ws.rglob("*")) if p.is_file())


def test_the_token_never_leaks(hostile: Setup) -> None:
    """The token goes only into the Authorization header of entry-bundle requests to the
    registered host: never in output, logs, state or fork files, even when the pod echoes it."""
    secret = TOKEN.encode()
    pod = hostile.pod

    def echo(path: str, headers: dict[str, str]) -> Answer | None:
        if path.startswith("tile/entries/"):
            return Answer(500, b"upstream error; request: " + headers["authorization"].encode())
        return None

    def echo_at_the_cut(path: str, headers: dict[str, str]) -> Answer | None:
        if path.startswith("tile/entries/"):  # across the 300 characters an error shows
            return Answer(502, b"." * 280 + headers["authorization"].encode())
        return None

    def echo_in_a_header(path: str, headers: dict[str, str]) -> Answer | None:
        if path.startswith("tile/entries/"):
            return Answer(200, b"x", {"Content-Encoding": headers["authorization"]})
        return None

    def bad_status_line(path: str, headers: dict[str, str]) -> Answer | None:
        if not path.startswith("tile/entries/"):
            return None
        line = b"HTTP/1.1 xx " + headers["authorization"].encode() + b"\r\n\r\n"
        return Answer(writer=lambda w: w.write(line))

    outputs: list[str] = []
    for hook in (echo, echo_at_the_cut, echo_in_a_header, bad_status_line):
        pod.hook = hook
        code, got, out, err = hostile.sync("-v")
        assert code == 3, got
        outputs += [out, err]
        text_code, text_out, text_err = run("--workspace", str(hostile.ws), "-v", "mirror", "sync")
        assert text_code == 3
        outputs += [text_out, text_err]
    assert any("HTTP 500" in o for o in outputs)
    # mirror add of another pod that echoes the token: refused (exit 2), the token not shown
    other = HostileLog(generate("other.example/pod"), event_entries("o", 10))
    echoing = HostilePod(other, 10)
    echoing.hook = echo
    try:
        argv = ["mirror", "add", echoing.url, "--key", other.vkey, "--token-env", "HOSTILE_TOKEN"]
        code, out, err = run("--workspace", str(hostile.ws), "-v", *argv)
    finally:
        echoing.close()
    assert code == 2, out + err
    assert "HTTP 500" in err
    outputs += [out, err]
    # a redirect (to another listener) is not followed: the token goes nowhere else
    elsewhere = HostilePod(hostile.log, SIZE)
    try:
        hostile.answer("tile/entries/000", Answer(302, b"", {"Location": elsewhere.url + "/x"}))
        code, got, out, err = hostile.sync("-v")
        assert code == 3, got
        assert "HTTP 302" in str(got["message"]), got
        assert elsewhere.requests == []
    finally:
        elsewhere.close()
    # synced, then a fork: the proof file and the alert entry
    pod.hook = None
    assert hostile.sync()[0] == 0
    pod.serve(HostileLog(hostile.log.signer, event_entries("fork", SIZE)), SIZE)
    code, got, out, err = hostile.sync("-v")
    assert (code, got["status"]) == (1, "fork"), got
    outputs += [out, err, run("--workspace", str(hostile.ws), "--json", "mirror", "list")[1]]
    for text in outputs:
        assert TOKEN not in text
        assert TOKEN[-20:] not in text  # not even the signature part
    assert secret not in _everything(hostile.ws)
    assert secret[-20:] not in _everything(hostile.ws)
    # the token went only with entry-bundle requests
    for seen in pod.requests:
        assert ("authorization" in seen.headers) == seen.path.startswith("tile/entries/"), seen
        assert TOKEN not in seen.path


def test_careless_operator(hostile: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = hostile.ws
    config = (ws / cfg.CONFIG_NAME).read_bytes()
    # credentials in the URL would be written into edgeaudit.toml, fork proofs and the log
    other = HostileLog(generate("other.example/pod"), event_entries("o", 10))
    pod = HostilePod(other, 10)
    try:
        url = pod.url.replace("http://", f"http://mirror:{TOKEN}@")
        code, out, err = run("--workspace", str(ws), "mirror", "add", url, "--key", other.vkey)
    finally:
        pod.close()
    assert code == 2, out + err
    assert TOKEN not in out + err
    assert (ws / cfg.CONFIG_NAME).read_bytes() == config

    # the token variable unset, or empty: checked up to the entries, nothing stored, exit 3
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv("HOSTILE_TOKEN")
        else:
            monkeypatch.setenv("HOSTILE_TOKEN", value)
        code, got, _, _ = hostile.sync()
        assert (code, got["status"]) == (3, "error"), got
        assert "token" in str(got["message"])
        assert hostile.held()[:2] == (0, 0)
    assert not any(r.path.startswith("tile/entries/") for r in hostile.pod.requests[-8:])


# -- crashes and concurrency, with a real pod and real `mirror sync` processes ---------------

BIG = 2560  # entries of the pod at least: ten bundles, stored a bundle (256) a batch


@pytest.fixture
def real_pod(campus: Campus) -> Pod:
    """The session's pod one (its log only grows), with at least :data:`BIG` entries signed."""
    pod = campus.one
    size = pod.signed()[0]
    if size < BIG:
        pod.append(BIG - size)
    return pod


def _central_of(pod: Pod, root: Path, db: str | None) -> tuple[Path, dict[str, str]]:
    """A central workspace mirroring ``pod``, and the environment its processes run with."""
    ws = central(root, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    env["BIG_TOKEN"] = pod.token()
    argv = ["mirror", "add", pod.url, "--key", pod.config.verifier_key, "--token-env", "BIG_TOKEN"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BIG_TOKEN", env["BIG_TOKEN"])
        code, _, err = run("--workspace", str(ws), *argv)
    assert code == 0, err
    return ws, env


def _sync_process(ws: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(ws), "--json"]
    return subprocess.Popen(
        [*argv, "mirror", "sync", "--batch", "256", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _pg(db: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(db)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True
    )


@pytest.mark.usefixtures("clean_env")
@pytest.mark.postgres
def test_killed_at_random_moments_then_two_syncs_at_once_complete(
    real_pod: Pod, tmp_path: Path, pg_url: str
) -> None:
    """``mirror sync`` SIGKILLed again and again, also inside a storing transaction: each time
    what is stored is a prefix of the pod's log in whole batches and nothing is held early.
    Then two syncs at once on the same store finish it (each synced, up to date, or a
    retryable error, never a crash): the copy is the pod's log byte for byte and verifies."""
    pod = real_pod
    ws, env = _central_of(pod, tmp_path, pg_url)
    size, entries = pod.signed()
    origin = pod.config.origin
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    watch = _pg(pg_url)
    writing = (  # the transactions of the mirror's backends that have written rows
        "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )

    def stored() -> int:
        row = watch.execute("SELECT tree_size FROM logs WHERE origin = %s", (origin,)).fetchone()
        return int(row[0]) if row else 0

    killed_inside, cut_midway = 0, 0
    try:
        # kill until at least one kill landed inside a transaction and two left a partial copy
        # (a kill inside the first batch's transaction leaves nothing: timing decides, so the
        # kills go on, at most eight, rather than the test depending on where three landed)
        for attempt in range(8):
            if killed_inside >= 1 and cut_midway >= 2:
                break
            if stored() >= size - 256:  # (killed too late: done, or the last batch to go)
                break
            inside = killed_inside < 1 or (attempt % 2 == 0 and rng.random() < 0.5)
            moment = "inside a transaction" if inside else "past a random size"
            proc = _sync_process(ws, env, "--rate", "40")
            at = stored()  # past a random size, within the first half of what is left
            target = rng.randrange(at + 1, at + 2 + (size - at) // 2)
            skip, seen = rng.randrange(3), set()  # inside the first, second or third one
            began = time.monotonic()
            while proc.poll() is None and time.monotonic() - began < 30:
                if moment == "inside a transaction":
                    seen.update(row[0] for row in watch.execute(writing).fetchall())
                    if len(seen) > skip:
                        killed_inside += proc.poll() is None
                        break
                elif stored() >= target:
                    break
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            held, now, copied = mirrored(ws, origin)
            what = f"seed {seed}, killed {moment} at {now}"
            assert held in (0, size), what  # held only once every entry is stored
            assert now == size or now % 256 == 0, what  # whole batches only
            assert copied == entries[:now], what
            cut_midway += 0 < now < size
    finally:
        watch.close()
    assert killed_inside >= 1, f"seed {seed}: no kill landed inside a transaction"
    assert cut_midway >= 2, f"seed {seed}: fewer than two kills left a partial copy"

    procs = [_sync_process(ws, env, "--rate", "0") for _ in range(2)]
    ends = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, ends, strict=True):
        assert p.returncode in (0, 3), out + err
        result = json.loads(out.strip().splitlines()[-1])["mirrors"][0]
        assert result["status"] in ("synced", "up-to-date", "error"), result
    assert 0 in [p.returncode for p in procs]
    assert mirrored(ws, origin) == (size, size, entries)
    code, out, err = run("--workspace", str(ws), "verify", "--log", origin)
    assert code == 0, out + err


def test_an_absurd_size_signed_by_the_pods_key_ends_the_pass_promptly(hostile: Setup) -> None:
    """A checkpoint of 2**63 entries (or the most a note can state), signed by the pod's key:
    refused or failed within seconds, nothing stored (the pass must not iterate over the
    size before asking for anything: one pod would stop the mirroring of every other)."""
    assert hostile.sync()[0] == 0
    before = hostile.held()
    for size in (1 << 63, (1 << 64) - 1):
        note = hostile.log.note(size, root_hash=bytes(range(32)))
        hostile.answer("checkpoint", Answer(200, note))
        box: list[tuple[int, dict[str, object], str, str]] = []
        worker = threading.Thread(target=lambda b=box: b.append(hostile.sync()), daemon=True)
        worker.start()
        worker.join(20)
        assert box, f"mirror sync of a checkpoint of size {size} still running after 20 s"
        code, got, _, _ = box[0]
        assert code in (1, 3), got
        assert hostile.held() == before


class _TileClient:
    """Stands for the pod's connection in :func:`_parents`: serves hash tiles by path."""

    def __init__(self, tiles: dict[str, bytes]) -> None:
        self.tiles = tiles
        self.asked: list[str] = []

    def tile(self, path: str) -> bytes:
        self.asked.append(path)
        return self.tiles[path]


def test_parents_of_later_tiles_are_fetched_as_reached_and_authenticated() -> None:
    """The parent of a level-0 tile beyond the first window is fetched when that tile is
    reached and authenticated by its own (authenticated) parent; an altered one is refused."""
    from edgeaudit.mirror.fetch import _parents
    from edgeaudit.mirror.tiles import TileMismatch, VerifiedTiles, needed_tiles, tile_ref
    from tests.mirror.test_tiles import BIG, BIG_SIZE

    tree, all_tiles = BIG
    n = BIG_SIZE  # level-1 tile 0 is full, 1 partial; level 2 partial
    by_path = {tile_ref(n, t).path(): all_tiles[t][: tile_ref(n, t).width * 32] for t in all_tiles}
    wanted = needed_tiles(n, [], range(0))
    assert (1, 0) not in wanted
    fetched = {t: by_path[tile_ref(n, t).path()] for t in wanted}
    verified = VerifiedTiles.check(n, root_of(tree, n), fetched)
    client = _TileClient(by_path)
    _parents(client, verified, (0, 5))  # type: ignore[arg-type]
    assert client.asked == ["tile/1/000"]
    verified.check_full((0, 5), by_path["tile/0/005"])
    _parents(client, verified, (0, 6))  # type: ignore[arg-type]
    assert client.asked == ["tile/1/000"]  # fetched once

    verified = VerifiedTiles.check(n, root_of(tree, n), fetched)
    client = _TileClient({**by_path, "tile/1/000": _flip(by_path["tile/1/000"], 40)})
    with pytest.raises(TileMismatch, match="tile/1/000"):
        _parents(client, verified, (0, 5))  # type: ignore[arg-type]
    assert (1, 0) not in verified.tiles


def root_of(tree: Any, size: int) -> bytes:
    from edgeaudit.merkle.tree import root

    return root(size, tree)


def test_a_pod_that_trickles_its_answer_is_cut_off() -> None:
    """A byte now and then keeps every read within the socket timeout; the whole answer has
    a deadline too (else one such pod holds up the mirroring of every other for days)."""
    from edgeaudit.mirror.http import PodClient, PodUnreachable

    log = HostileLog(generate(ORIGIN), event_entries("t", 5))
    pod = HostilePod(log, 5)
    note = log.note(5)

    def trickle(w: BinaryIO) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(note))
        try:
            for i in range(len(note)):
                w.write(note[i : i + 1])
                w.flush()
                time.sleep(0.05)
        except OSError:
            pass

    pod.hook = lambda _p, _h: Answer(writer=trickle)
    client = PodClient(pod.url, timeout=0.5)
    began = time.monotonic()
    try:
        with pytest.raises(PodUnreachable, match="no whole answer within"):
            client.checkpoint()
    finally:
        client.close()
        pod.close()
    assert time.monotonic() - began < 5  # the deadline: 0.5 s + 1 s (64 KiB at 64 KiB/s)
