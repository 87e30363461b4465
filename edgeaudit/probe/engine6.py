"""The engine's IPv6 half: TCP SYN, UDP (with the service requests), ICMPv6 echo and neighbour
solicitation sent on raw AF_INET6 sockets (``wire6``), and their answers matched by the same
keyed cookies as over IPv4. Verdicts do not care which family an answer came by."""

from __future__ import annotations

import socket
import struct
from typing import TYPE_CHECKING, Any, Final

from edgeaudit.probe import payloads, wire, wire6
from edgeaudit.probe.model import Answer

if TYPE_CHECKING:
    from edgeaudit.probe.engine import Engine
    from edgeaudit.probe.model import Probe

_HOPLIMIT_SPACE: Final = socket.CMSG_SPACE(4)


def _raw6(proto: int) -> Any:
    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        return s

    return make


def icmp_socket(engine: Engine) -> socket.socket:
    s = engine._socket("icmp6", _raw6(socket.IPPROTO_ICMPV6))
    # neighbour solicitations must leave with hop limit 255 (RFC 4861 7.1.1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    return s


def send(engine: Engine, p: Probe, src: str, round_: int) -> None:
    c = engine._c
    if p.protocol == "tcp":
        assert p.port is not None
        sport = engine.cookie.sport("tcp", p.address, p.port)
        seq = (engine.cookie.seq(src, sport, p.address, p.port) + round_) % 2**32
        s = engine._socket("tcp6", _raw6(socket.IPPROTO_TCP))
        s.sendto(wire6.tcp_syn6(src, p.address, sport, p.port, seq), (p.address, 0))
    elif p.protocol == "udp":
        assert p.port is not None
        sport = engine.cookie.sport("udp", p.address, p.port)
        s = engine._socket("udp6", _raw6(socket.IPPROTO_UDP))
        ident = engine.cookie.seq(src, sport, p.address, p.port)
        ctx = payloads.Ctx(src, p.address, sport, p.port, ident, engine._community)
        for body in [payloads.PAYLOADS[n].build(ctx) for n in p.payloads] or [b""]:
            s.sendto(wire6.udp6(src, p.address, sport, p.port, body), (p.address, 0))
            c.packets += 1
        return
    elif p.protocol == "icmp":
        s = icmp_socket(engine)
        ident = engine.cookie.ident(p.address)
        s.sendto(wire6.icmp6_echo(ident, round_, b"edgeaudit"), (p.address, 0))
    else:  # "arp": neighbour solicitation on the link towards the target
        iface = wire6.route6(p.address).interface
        s = icmp_socket(engine)
        ns = wire6.neighbor_solicit(p.address, wire.mac_address(iface))
        s.sendto(ns, (wire6.solicited_node(p.address), 0, 0, socket.if_nametoindex(iface)))
    c.packets += 1


def receive(engine: Engine, name: str, s: socket.socket) -> None:
    """One datagram from an IPv6 raw socket (raises BlockingIOError when none is left)."""
    data, anc, _, addr = s.recvmsg(65535, _HOPLIMIT_SPACE)
    hop = 0
    for level, kind, value in anc:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
            hop = struct.unpack("@i", value[:4])[0]
    src = str(addr[0]).split("%")[0]
    try:
        _decode(engine, name, data, src, hop)
    except Exception as exc:  # a malformed packet from the wire is not ours
        import logging

        logging.getLogger("edgeaudit.probe").debug("ignoring an undecodable %s: %s", name, exc)


def _decode(engine: Engine, name: str, data: bytes, src: str, hop: int) -> None:
    cookie = engine.cookie
    if name == "tcp6":
        r = wire6.parse_tcp6(data, src, hop)
        if r is None or r.dport != cookie.sport("tcp", src, r.sport):
            return
        mine = engine._src.get(src)
        if mine is None:
            return
        t = cookie.try_of(cookie.seq(mine, r.dport, src, r.sport), r.ack - 1)
        if t is None:
            return
        if r.flags & wire.RST:
            engine._add((src, "tcp", r.sport), Answer("rst", src, hop), t)
        elif r.flags & wire.SYN and r.flags & wire.ACK:
            engine._add((src, "tcp", r.sport), Answer("syn-ack", src, hop), t)
    elif name == "udp6":
        u = wire6.parse_udp6(data, src, hop)
        if u is None:
            return
        if u.dport == cookie.sport("udp", src, u.sport):
            port = u.sport
        elif (src, u.dport) in engine._udp_ports:
            port = engine._udp_ports[(src, u.dport)]
        else:
            return
        key = (src, "udp", port)
        said = payloads.describe(engine._payloads.get(key, ()), u.payload)
        engine._add(key, Answer("udp", src, hop, detail=said))
    else:
        _icmp(engine, wire6.parse_icmp6(data, src, hop))


def _icmp(engine: Engine, i: wire6.Icmp6 | None) -> None:
    cookie = engine.cookie
    if i is None:
        return
    if i.type == wire6.ECHO_REPLY:
        if i.ident == cookie.ident(i.reporter):
            engine._add((i.reporter, "icmp", None), Answer("echo", i.reporter, i.ttl))
        return
    if i.type == wire6.NEIGHBOR_ADVERT:
        # on-link only: an advertisement that crossed a router is not one (RFC 4861 7.1.2)
        if i.target is not None and i.ttl == 255:
            engine._add((i.target, "arp", None), Answer("arp", i.target, mac=i.mac or i.reporter))
        return
    error = Answer("icmp", i.reporter, i.ttl, i.type, i.code)
    dst = i.quoted_dst
    if dst is None:
        return
    if i.quoted_protocol == "tcp" and i.quoted_dport is not None:
        mine = engine._src.get(dst)
        if (
            mine is not None
            and i.quoted_sport == cookie.sport("tcp", dst, i.quoted_dport)
            and i.quoted_seq is not None
            and (
                t := cookie.try_of(
                    cookie.seq(mine, i.quoted_sport, dst, i.quoted_dport), i.quoted_seq
                )
            )
            is not None
        ):
            engine._add((dst, "tcp", i.quoted_dport), error, t)
    elif i.quoted_protocol == "udp" and i.quoted_dport is not None:
        if i.quoted_sport == cookie.sport("udp", dst, i.quoted_dport):
            engine._add((dst, "udp", i.quoted_dport), error)
    elif i.quoted_protocol == "icmp" and i.ident == cookie.ident(dst):
        engine._add((dst, "icmp", None), error)
