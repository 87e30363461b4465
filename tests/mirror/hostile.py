"""A hostile pod for the mirror's attack tests: a standard-library HTTP server on 127.0.0.1
that publishes a log of its own making (its own Ed25519 key, entries, C2SP hash tiles and
entry bundles, signed checkpoints) and lets a test replace any answer.

``HostileLog`` builds the honest resources of a tree of any size over given entries (which
need not be events: a hostile pod may sign anything). ``HostilePod`` serves them; its ``hook``
sees every request first and may return an :class:`Answer` of its own (any status, headers,
body, or a raw writer for bodies no honest server sends). Every request is recorded with its
headers, so a test can check what the mirror sent where.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

from edgeaudit.canonical import leaf_hash
from edgeaudit.events import prepare
from edgeaudit.merkle.c2sp import C2SP_HEIGHT, TileRef, bundle, tile_set
from edgeaudit.merkle.tree import MemoryTree, root
from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import Ed25519Signer
from tests.mirror.conftest import events


def event_entries(tag: str, count: int, first: int = 0) -> list[bytes]:
    """``count`` canonical event entries (what a pod's append stores)."""
    return [prepare(e).body for e in events(tag, first, count)]


class HostileLog:
    """A log over ``entries`` signed with ``signer``: every resource a tree of a size has."""

    def __init__(self, signer: Ed25519Signer, entries: list[bytes]) -> None:
        self.signer = signer
        self.entries = list(entries)
        self.tree = MemoryTree(leaf_hash(e) for e in self.entries)

    @property
    def origin(self) -> str:
        return self.signer.name

    @property
    def vkey(self) -> str:
        return self.signer.verifier_key

    def root(self, size: int) -> bytes:
        return root(size, self.tree)

    def note(
        self,
        size: int,
        *,
        root_hash: bytes | None = None,
        origin: str | None = None,
        signer: Ed25519Signer | None = None,
    ) -> bytes:
        """A signed checkpoint note of ``size`` (any field can be a lie)."""
        cp = Checkpoint(
            origin or self.origin, size, self.root(size) if root_hash is None else root_hash
        )
        return (signer or self.signer).sign_checkpoint(cp)

    def tile(self, ref: TileRef) -> bytes:
        level = C2SP_HEIGHT * (ref.level or 0)
        wanted = [(level, ref.start + i) for i in range(ref.width)]
        nodes = self.tree.nodes(wanted)
        return b"".join(nodes[w] for w in wanted)

    def resources(self, size: int) -> dict[str, bytes]:
        """``path -> body`` of the checkpoint, hash tiles and entry bundles of ``size``."""
        out = {"checkpoint": self.note(size)}
        for ref in tile_set(size):
            out[ref.path()] = self.tile(ref)
            if ref.level == 0:
                b = TileRef(None, ref.index, ref.width)
                out[b.path()] = bundle(self.entries[b.start : b.start + b.width])
        return out


@dataclass
class Answer:
    """What the hostile pod answers instead: a status, headers and a body (Content-Length
    set unless ``headers`` has one or a raw ``writer`` writes the whole response itself)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    writer: Callable[[BinaryIO], None] | None = None


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


Hook = Callable[[str, dict[str, str]], Answer | None]


class HostilePod:
    """Serve ``log`` at ``size`` on ``host`` (a fresh port; :attr:`url` names 127.0.0.1);
    ``hook`` may answer instead."""

    def __init__(self, log: HostileLog, size: int, host: str = "127.0.0.1") -> None:
        self.hook: Hook | None = None
        self.requests: list[Seen] = []
        self.serve(log, size)
        pod = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                pod._answer(self)

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def serve(self, log: HostileLog, size: int) -> None:
        """Publish ``log`` at ``size`` from now on (a new checkpoint, tiles and bundles)."""
        self.log = log
        self.size = size
        self.resources = log.resources(size)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.lstrip("/")
        headers = {k.lower(): v for k, v in h.headers.items()}
        self.requests.append(Seen(path, headers))
        answer = self.hook(path, headers) if self.hook else None
        if answer is None:
            body = self.resources.get(path)
            if path.startswith("tile/entries/") and "authorization" not in headers:
                answer = Answer(401, b"a token is needed")
            else:
                answer = Answer(200, body) if body is not None else Answer(404, b"not found")
        if answer.writer is not None:
            answer.writer(h.wfile)
            h.wfile.flush()
            h.close_connection = True
            return
        h.send_response(answer.status)
        for k, v in answer.headers.items():
            h.send_header(k, v)
        if not any(k.lower() == "content-length" for k in answer.headers):
            h.send_header("Content-Length", str(len(answer.body)))
        h.end_headers()
        h.wfile.write(answer.body)
