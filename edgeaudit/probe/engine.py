"""The probe engine: send every probe (in random order, under a token-bucket rate cap), match
answers by their keyed cookie, and retry what stayed silent, up to ``tries`` probes each (up
to twice that once a retry has been answered: the path loses packets).

It collects answers only; :mod:`edgeaudit.probe.verdict` decides what they mean. IPv4 here,
IPv6 in :mod:`edgeaudit.probe.engine6`.
The engine runs where it is started (the vantage namespace or host) and needs raw sockets
(root or CAP_NET_RAW).
"""

from __future__ import annotations

import ipaddress
import os
import random
import select
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edgeaudit.errors import EdgeauditError
from edgeaudit.probe import engine4, wire
from edgeaudit.probe.model import Answer, Probe, ScopeError
from edgeaudit.probe.pacing import Bucket, Pace

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:  # the annotations are strings
    from typing import Any, Final

ENGINE: Final = "edgeaudit-probe/1"
RCVBUF: Final = 16 << 20
ETH_P_ARP: Final = 0x0806
MIN_WAIT: Final = 0.05  # seconds: never wait less than this for late answers
SO_RCVBUFFORCE: Final = 33  # Linux; root may exceed net.core.rmem_max
Key = tuple[str, str, int | None]  # (address, protocol, port)
__all__ = ["ENGINE", "Answer", "Collected", "Engine", "Key", "Params", "ProbeError"]


def _engine6() -> Any:
    from edgeaudit.probe import engine6  # IPv6 only: an IPv4 sweep starts lighter

    return engine6


def wire4() -> Any:
    from edgeaudit.probe import wire4  # UDP and ICMP only: a TCP sweep starts lighter

    return wire4


class ProbeError(EdgeauditError):
    """The engine cannot run here (no raw sockets, no route, unsupported target)."""


@dataclass(frozen=True, slots=True)
class Params:
    rate: int = 10_000  # packets per second
    tries: int = 3  # up to twice as many when a retry shows that packets are being lost
    timeout: float = 1.0  # at most this many seconds of waiting for answers after each round
    community: bytes = b"public"  # SNMP v1/v2c requests (never recorded)
    # UDP datagrams to one address: after a burst of ``udp_burst``, one per ``udp_pace``
    # seconds (0: no pacing), so that a host's ICMP rate limit does not silence closed ports
    udp_pace: float = 0.0
    udp_burst: int = 6


@dataclass
class Collected:
    answers: dict[Key, list[Answer]] = field(default_factory=dict)
    sent: dict[Key, int] = field(default_factory=dict)
    routed: dict[str, bool] = field(default_factory=dict)  # address -> behind a gateway
    started: str = ""
    finished: str = ""
    packets: int = 0
    loss_seen: bool = False  # a retry was answered: the path loses packets
    rtt_max: float | None = None  # seconds: the slowest answer seen


def now_utc() -> str:
    """RFC 3339 UTC with microseconds (``time``: ``datetime`` costs start-up time)."""
    seconds, ns = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1000:06d}Z"


class Engine:
    """Probes targets inside ``scope`` (the inventory's segment networks) and nothing else."""

    def __init__(self, scope: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.scope = tuple(scope)
        self.cookie = wire.Cookie(os.urandom(32))
        self._socks: dict[str, socket.socket] = {}
        self._src: dict[str, str] = {}
        self._probes: set[Key] = set()
        self._sent_at: dict[Key, float] = {}
        self._payloads: dict[Key, tuple[str, ...]] = {}
        self._tcp: dict[Key, tuple[int, int]] = {}  # IPv4 TCP probe -> (our sport, seq base)
        self._udp_ports: dict[tuple[str, int], int] = {}  # (target, our sport) -> its port
        self._community = b"public"
        self._max_rtt: float | None = None
        self._srtt: float | None = None  # smoothed round trip (RFC 6298)
        self._rttvar = 0.0
        self._first_at: dict[Key, float] = {}
        self._timeout = 1.0
        self._c = Collected()
        self._scapy: Any = None

    # -- setup --------------------------------------------------------------------------
    def check_scope(self, probes: Sequence[Probe]) -> None:
        """The scope guard: :class:`ScopeError` unless every target lies in ``scope``."""
        for p in probes:
            ip = ipaddress.ip_address(p.address)
            if not any(ip.version == net.version and ip in net for net in self.scope):
                raise ScopeError(
                    f"scope guard: {p.address} is outside every segment of the inventory; "
                    "refusing to probe it"
                )

    def _socket(self, name: str, make: Callable[[], socket.socket]) -> socket.socket:
        if name not in self._socks:
            try:
                s = make()
            except PermissionError:
                raise ProbeError(
                    "raw sockets need root or CAP_NET_RAW; run the probe as root inside the "
                    "vantage network"
                ) from None
            s.setblocking(False)
            try:
                s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self._socks[name] = s
        return self._socks[name]

    def _raw(self, proto: int) -> Callable[[], socket.socket]:
        return lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)

    def _source(self, dst: str) -> str:
        if dst not in self._src:
            try:
                self._src[dst] = wire.source_address(dst)
                if ":" in dst:
                    from edgeaudit.probe import wire6  # IPv6 modules only for IPv6 targets

                    r: wire.Route | wire6.Route6 = wire6.route6(dst)
                else:
                    r = wire.route(dst)
            except OSError as exc:
                raise ProbeError(f"{dst}: no route from this vantage point ({exc})") from None
            self._c.routed[dst] = r.gateway is not None
        return self._src[dst]

    # -- run ----------------------------------------------------------------------------
    def run(self, probes: Sequence[Probe], params: Params) -> Collected:
        self.check_scope(probes)
        if any(p.protocol == "arp" and ":" not in p.address for p in probes):
            self._load_scapy()
        self._c = c = Collected(started=now_utc())
        # ICMP errors answer every protocol: listen from the start, per address family
        if any(":" not in p.address for p in probes):
            self._socket("icmp", self._raw(socket.IPPROTO_ICMP))
        if any(":" in p.address for p in probes):
            _engine6().icmp_socket(self)
        self._probes = {(p.address, p.protocol, p.port) for p in probes}
        self._payloads = {(p.address, p.protocol, p.port): p.payloads for p in probes}
        self._udp_ports = {
            (p.address, self.cookie.sport("udp", p.address, p.port)): p.port
            for p in probes
            if p.protocol == "udp" and p.port is not None
        }
        self._community = params.community
        self._src, self._sent_at, self._max_rtt = {}, {}, None  # an engine may run again
        self._tcp = {}
        self._srtt, self._rttvar = None, 0.0
        self._first_at, self._timeout = {}, params.timeout
        for p in probes:
            self._source(p.address)
        first = list(probes)
        random.SystemRandom().shuffle(first)
        try:
            self._overlapped(first, params)
        finally:
            for s in self._socks.values():
                s.close()
            self._socks.clear()
        c.finished = now_utc()
        c.rtt_max = self._max_rtt
        return c

    def _overlapped(self, first: list[Probe], params: Params) -> None:
        """First tries in random order under the rate cap, each silent probe retried once the
        retry wait after its last try has passed, overlapping with the first tries of others
        as nmap does. Up to ``tries`` probes each, twice that once a retry has been answered
        (the path loses packets). After its last try a probe is given the full wait (four
        times the slowest round trip seen) before it counts as silent; late answers count
        until the end."""
        c = self._c
        bucket = Bucket(params.rate)
        retry: deque[tuple[float, Probe]] = deque()  # (last sent, probe), oldest first
        final: deque[tuple[float, Probe]] = deque()  # sent its last try: waiting only
        pace = Pace(params.udp_pace, params.udp_burst) if params.udp_pace > 0 else None
        held: deque[Probe] = deque()  # UDP probes due, waiting for their address's budget
        sent_first = 0

        def key(p: Probe) -> Key:
            return (p.address, p.protocol, p.port)

        def datagrams(p: Probe) -> int:
            return max(1, len(p.payloads))

        def paced(p: Probe) -> bool:
            """Hold a UDP probe whose address has no budget left (``udp_pace``)."""
            if pace is None or p.protocol != "udp":
                return False
            if pace.take(p.address, datagrams(p), time.monotonic()):
                return False
            held.append(p)
            return True

        def send(p: Probe) -> None:
            self._send(p, c.sent.get(key(p), 0))
            (retry if c.sent[key(p)] < limit else final).append((time.monotonic(), p))

        while first or retry or final or held:
            now = time.monotonic()
            limit = 2 * params.tries if c.loss_seen else params.tries
            for q in (retry, final):
                while q and key(q[0][1]) in c.answers:
                    q.popleft()  # answered: done
            if not (first or retry or final or held):
                break
            ready = None
            if pace is not None and held:  # the first held probe whose address has budget
                ready = next((p for p in held if not pace.wait(p.address, datagrams(p), now)), None)
            if final and final[0][0] + self._wait(params.timeout) <= now:
                final.popleft()  # silent after its last try and the full wait: done
            elif ready is not None and pace is not None:
                if (delay := bucket.wait()) > 0:
                    self._drain(max(delay, 0.002))
                    continue
                held.remove(ready)
                if key(ready) not in c.answers:  # else a late answer to an earlier try: done
                    pace.take(ready.address, datagrams(ready), now)
                    send(ready)
            elif retry and retry[0][0] + self._retry_wait(params.timeout) <= now:
                if (delay := bucket.wait()) > 0:
                    self._drain(max(delay, 0.002))
                    continue
                _, p = retry.popleft()
                if not paced(p):
                    send(p)
            elif first:
                if (delay := bucket.wait()) > 0:
                    self._drain(max(delay, 0.002))  # let tokens (and answers) pile up
                    continue
                p = first.pop()
                if paced(p):
                    continue
                send(p)
                sent_first += 1
                if sent_first % 32 == 0:
                    self._drain(0)
            else:
                due = [q[0][0] + w for q, w in ((retry, self._retry_wait(params.timeout)),
                       (final, self._wait(params.timeout))) if q]  # fmt: skip
                if pace is not None and held:
                    due.append(now + min(pace.wait(p.address, datagrams(p), now) for p in held))
                self._drain(min(max(min(due) - now, 0.0), 0.05))
            if c.loss_seen and final and not retry:
                # more tries are allowed now: silent probes waiting in ``final`` go back
                more = [(t, p) for t, p in final if c.sent[key(p)] < 2 * params.tries]
                for item in more:
                    final.remove(item)
                retry.extend(sorted(more, key=lambda tp: tp[0]))

    def _send(self, p: Probe, round_: int) -> None:
        key = (p.address, p.protocol, p.port)
        src = self._src[p.address]
        c = self._c
        c.sent[key] = c.sent.get(key, 0) + 1
        self._sent_at[key] = now = time.monotonic()
        self._first_at.setdefault(key, now)
        try:
            if ":" in p.address:
                _engine6().send(self, p, src, round_)
            elif p.protocol == "tcp":
                assert p.port is not None
                sport, base = self.tcp_cookie(key, src)
                # the try number rides in the sequence number: an answer says which try it
                # answers (a late answer to the first try is not a sign of loss)
                seq = (base + round_) % 2**32
                s = self._socket("tcp", self._raw(socket.IPPROTO_TCP))
                s.sendto(wire.tcp_syn(src, p.address, sport, p.port, seq), (p.address, 0))
            elif p.protocol == "udp":
                assert p.port is not None
                sport = self.cookie.sport("udp", p.address, p.port)
                s = self._socket("udp", self._raw(socket.IPPROTO_UDP))
                ident = self.cookie.seq(src, sport, p.address, p.port)
                from edgeaudit.probe import payloads  # UDP only: a TCP sweep starts lighter

                ctx = payloads.Ctx(src, p.address, sport, p.port, ident, self._community)
                for body in [payloads.PAYLOADS[n].build(ctx) for n in p.payloads] or [b""]:
                    data = wire4().udp4(src, p.address, sport, p.port, body)
                    s.sendto(data, (p.address, 0))
                    c.packets += 1
                return
            elif p.protocol == "icmp":
                s = self._socket("icmp", self._raw(socket.IPPROTO_ICMP))
                ident = self.cookie.ident(p.address)
                s.sendto(wire4().icmp_echo(ident, round_, b"edgeaudit"), (p.address, 0))
            else:
                iface = wire.route(p.address).interface
                s = self._socket(f"arp:{iface}", lambda: self._arp_socket(iface))
                mac = wire.mac_address(iface)
                s.send(self._scapy.arp_request(mac, src, p.address))
            c.packets += 1
        except BlockingIOError:
            self._drain(0.01)  # the send buffer is full: let answers in, the retry resends
        except OSError as exc:
            raise ProbeError(f"sending {p.protocol} to {p.address}: {exc}") from None

    def tcp_cookie(self, key: Key, src: str) -> tuple[int, int]:
        """An IPv4 TCP probe's keyed source port and sequence base, computed once per probe
        (its tries and its answer use them again)."""
        if key not in self._tcp:
            address, _, port = key
            assert port is not None
            sport = self.cookie.sport("tcp", address, port)
            self._tcp[key] = (sport, self.cookie.seq(src, sport, address, port))
        return self._tcp[key]

    @staticmethod
    def _arp_socket(iface: str) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        s.bind((iface, ETH_P_ARP))
        return s

    # -- receive ------------------------------------------------------------------------
    def _drain(self, timeout: float) -> None:
        socks = list(self._socks.items())
        if not socks:
            if timeout > 0:
                time.sleep(timeout)
            return
        ready, _, _ = select.select([s for _, s in socks], [], [], timeout)
        for name, s in socks:
            if s not in ready:
                continue
            while True:
                try:
                    if name.endswith("6"):
                        _engine6().receive(self, name, s)
                        continue
                    data = s.recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                self._take(name, data)

    def _retry_wait(self, timeout: float) -> float:
        """How long before a silent probe is tried again: the smoothed round trip plus four
        deviations (RFC 6298, as nmap), at least MIN_WAIT, at most the final wait."""
        if self._srtt is None:
            return self._wait(timeout)
        return min(self._wait(timeout), max(MIN_WAIT, self._srtt + 4 * self._rttvar))

    def _wait(self, timeout: float) -> float:
        """How long to wait after a round: the plan's timeout until something has answered,
        then four times the slowest round trip seen (at least MIN_WAIT, at most the timeout).
        Late answers still count while later rounds run."""
        if self._max_rtt is None:
            return timeout
        return min(timeout, max(MIN_WAIT, 4 * self._max_rtt))

    def _add(self, key: Key, answer: Answer, try_: int | None = None) -> None:
        """Record an answer; ``try_``: the try it answers (0 = the first), when known."""
        if key in self._probes:
            if key in self._sent_at:
                rtt = time.monotonic() - self._sent_at[key]
                self._max_rtt = rtt if self._max_rtt is None else max(self._max_rtt, rtt)
                if self._srtt is None:
                    self._srtt, self._rttvar = rtt, rtt / 2
                else:
                    self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
                    self._srtt = 0.875 * self._srtt + 0.125 * rtt
            late = time.monotonic() - self._first_at.get(key, 0.0) > self._wait(self._timeout)
            if (
                self._c.sent.get(key, 0) > 1
                and key not in self._c.answers
                and (try_ > 0 if try_ is not None else late)
            ):
                # a retry got an answer the first try did not (known from the try number it
                # carries, else from coming later than the first try's answer could have):
                # packets are being lost, so silence is weaker evidence; up to twice the tries
                self._c.loss_seen = True
            self._c.answers.setdefault(key, []).append(answer)

    def _take(self, name: str, data: bytes) -> None:
        try:
            engine4.decode(self, name, data)
        except Exception as exc:  # a malformed packet from the wire is not ours
            import logging  # only now: the engine's start-up stays light

            logging.getLogger("edgeaudit.probe").debug(
                "ignoring an undecodable %s packet: %s", name, exc
            )

    def _load_scapy(self) -> None:
        if self._scapy is None:
            from edgeaudit.probe import _scapy  # here: inside the vantage namespace

            self._scapy = _scapy
