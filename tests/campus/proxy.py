"""A TCP relay on loopback that stands for a network link, and can fail like one.

Each link sits between a client (a pod's ``checkpoint``, a mirror) and one server (a witness,
a pod's ``serve``). Up, it relays bytes both ways and keeps every byte the client sent, so a
test can read the HTTP requests that crossed it. It can be cut in the ways a WAN link fails:

* ``down()``: nothing listens on its port any more (connection refused), live connections are
  closed; ``up()`` listens again on the same port;
* ``blackhole()``: connections are accepted and requests swallowed, nothing ever answers
  (the client's timeout is what ends the wait);
* ``lose_answers(after=k)``: the next ``k`` requests are answered, then requests still reach
  the server but its answers are dropped and the client's connection is closed (the server
  acted, the client never learns it);
* ``cut_after(n, reset=...)``: answers flow until ``n`` bytes went to clients in all, then the
  connection is closed mid-answer (an orderly close, FIN, or with ``reset`` an RST as a
  middlebox or a rebooted router sends) and the link goes down.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass

_HANDED_OUT: set[tuple[str, int]] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now that this process has not handed out before. A port handed
    out is bound later (by a child process, or a link going up again): until then ``bind(0)``
    may give it to the next caller, and two servers of one campus would ask for one port."""
    while True:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        if (host, port) not in _HANDED_OUT:
            _HANDED_OUT.add((host, port))
            return port


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes


class Link:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self._lock = threading.Lock()
        self._mode = "relay"
        self._budget: int | None = None  # bytes to clients before a cut
        self._reset = False  # the cut sends an RST instead of a FIN
        self._answered_until = 0  # lose-answers: answers to requests past this count are lost
        self.to_clients = 0  # bytes relayed to clients since the link was made
        self._sent: list[bytearray] = []  # per connection: what the client sent
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.up()

    # -- control ---------------------------------------------------------------------------

    def up(self) -> None:
        """Relay again (listening on the same port)."""
        with self._lock:
            self._mode = "relay"
            self._budget = None
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.upstream[0], self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Refuse connections and close every open one."""
        with self._lock:
            listener, self._listener = self._listener, None
            socks, self._socks = self._socks, []
        if listener is not None:
            _close(listener)
        for s in socks:
            _close(s)

    def blackhole(self) -> None:
        with self._lock:
            self._mode = "blackhole"

    def lose_answers(self, after: int = 0) -> None:
        with self._lock:
            self._mode = "lose-answers"
            self._answered_until = self._count() + after

    def cut_after(self, n: int, reset: bool = False) -> None:
        """Relay ``n`` more bytes to clients, then cut the connection and go down."""
        with self._lock:
            self._budget = n
            self._reset = reset

    def close(self) -> None:
        self.down()

    # -- what crossed the link -------------------------------------------------------------

    def clear(self) -> None:
        """Forget the requests seen so far (and count lose-answers from now)."""
        with self._lock:
            self._answered_until -= self._count()
            self._sent = []

    def requests(self) -> list[Request]:
        """The HTTP requests clients sent over the link, in order per connection."""
        with self._lock:
            streams = [bytes(b) for b in self._sent]
        out: list[Request] = []
        for data in streams:
            out.extend(_parse_requests(data))
        return out

    # -- relaying --------------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            with self._lock:
                mode = self._mode
                sent = bytearray()
                self._sent.append(sent)
                self._socks.append(client)
            if mode == "blackhole":
                threading.Thread(target=self._swallow, args=(client, sent), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._socks.append(server)
            threading.Thread(target=self._pump_up, args=(client, server, sent), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(server, client), daemon=True).start()

    def _swallow(self, client: socket.socket, sent: bytearray) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                sent.extend(data)

    def _pump_up(self, client: socket.socket, server: socket.socket, sent: bytearray) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close(server)
                return
            with self._lock:
                sent.extend(data)
            try:
                server.sendall(data)
            except OSError:
                _close(client)
                return

    def _count(self) -> int:
        """Requests clients sent so far (call with the lock held)."""
        return sum(len(_parse_requests(bytes(b))) for b in self._sent)

    def _pump_down(self, server: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data:
                _close(client)
                return
            with self._lock:
                lose = self._mode == "lose-answers" and self._count() > self._answered_until
            if lose:
                _close(client)
                _close(server)
                return
            cut = reset = False
            with self._lock:
                if self._budget is not None:
                    if len(data) >= self._budget:
                        data, cut, reset = data[: self._budget], True, self._reset
                        self._budget = None
                    else:
                        self._budget -= len(data)
                self.to_clients += len(data)
            try:
                client.sendall(data)
            except OSError:
                _close(server)
                return
            if cut:
                if reset:  # linger 0: the close sends an RST (SHUT_RD wakes the other pump)
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    with contextlib.suppress(OSError):
                        client.shutdown(socket.SHUT_RD)
                    client.close()
                else:
                    _close(client)
                _close(server)
                self.down()
                return


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


def _parse_requests(data: bytes) -> list[Request]:
    out: list[Request] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        out.append(Request(method, path, rest[:length]))
        data = rest[length:]
    return out
