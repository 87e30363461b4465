"""The witness's HTTP interface (standard library server, HTTP/1.1 keep-alive).

``POST /add-checkpoint`` and ``GET /<hex SHA-256 of origin>/checkpoint``; the submission and
monitoring prefixes are the server's root.
"""

from __future__ import annotations

import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from edgeaudit.witness.protocol import MAX_BODY_BYTES, SIZE_CONTENT_TYPE, Refusal
from edgeaudit.witness.witness import Witness

log = logging.getLogger("edgeaudit.witness")
_CHECKPOINT_PATH = re.compile(r"/([0-9a-f]{64})/checkpoint")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog (socketserver's default of 5 resets clients)
    witness: Witness


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay silent (idle keep-alive or a stalled body)
    disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms stalls
    server: _Server
    server_version = "edgeaudit-witness"
    sys_version = ""

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._send(404, b"not found\n")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._send(411 if length_text is None else 400, b"Content-Length required\n")
            self.close_connection = True
            return
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            self._send(400, f"request body is over {MAX_BODY_BYTES} bytes\n".encode())
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            answer = self.server.witness.add_checkpoint(body)
        except Refusal as refusal:
            log.info("add-checkpoint refused (%d): %s", refusal.status, refusal.message)
            if refusal.status == 409 and refusal.latest_size is not None:
                self._send(409, f"{refusal.latest_size}\n".encode(), SIZE_CONTENT_TYPE)
            else:
                self._send(refusal.status, refusal.message.encode() + b"\n")
            return
        except Exception:
            log.exception("add-checkpoint failed")
            self._send(500, b"internal error\n")
            return
        self._send(200, answer)

    def do_GET(self) -> None:
        match = _CHECKPOINT_PATH.fullmatch(self.path)
        note = self.server.witness.checkpoint(match.group(1)) if match else None
        if note is None:
            self._send(404, b"not found\n")
        else:
            self._send(200, note, "text/plain; charset=utf-8")

    def _send(
        self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    """A bound server (``port`` 0 picks a free one); call ``serve_forever``."""
    server = _Server((host, port), _Handler)
    server.witness = witness
    return server
