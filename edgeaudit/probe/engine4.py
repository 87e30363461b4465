"""The engine's IPv4 receive side: TCP answers decoded with ``struct`` (``wire``), UDP and
ICMP too (``wire4``), ARP with scapy (``_scapy``), each matched by its keyed cookie to one of
our probes and recorded with :meth:`Engine._add` (with the try it answers, when it tells)."""

from __future__ import annotations

from edgeaudit.probe import wire
from edgeaudit.probe.model import Answer

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:
    from edgeaudit.probe.engine import Engine


def decode(engine: Engine, name: str, data: bytes) -> None:
    """One packet from an IPv4 raw socket (``name``: tcp, udp, icmp or arp:IFACE)."""
    if name == "tcp":
        r = wire.parse_tcp(data)
        # only an answer to a probe we sent, to its keyed source port, acknowledging one of
        # its keyed sequence numbers, is ours (its cookie was kept when the probe was sent)
        cookie = None if r is None else engine._tcp.get((r.src, "tcp", r.sport))
        if r is None or cookie is None or r.dport != cookie[0]:
            return
        if (t := engine.cookie.try_of(cookie[1], r.ack - 1)) is None:
            return
        if r.flags & wire.RST:
            engine._add((r.src, "tcp", r.sport), Answer("rst", r.src, r.ttl), t)
        elif r.flags & wire.SYN and r.flags & wire.ACK:
            engine._add((r.src, "tcp", r.sport), Answer("syn-ack", r.src, r.ttl), t)
    elif name == "udp":
        ihl = (data[0] & 0x0F) * 4 if data else 0
        dport = int.from_bytes(data[ihl + 2 : ihl + 4], "big") if len(data) >= ihl + 8 else 0
        if not wire.SPORT_BASE <= dport < wire.SPORT_BASE + wire.SPORT_SPAN:
            return  # not to one of our source ports: other traffic of this host
        from edgeaudit.probe import wire4

        u = wire4.decode_udp(data)
        if u is None:
            return
        # matched by our keyed source port; the answer may come from another port (TFTP
        # answers from a new one, RFC 1350 4)
        if u.dport == engine.cookie.sport("udp", u.src, u.sport):
            port = u.sport
        elif (u.src, u.dport) in engine._udp_ports:
            port = engine._udp_ports[(u.src, u.dport)]
        else:
            return
        key = (u.src, "udp", port)
        from edgeaudit.probe import payloads

        said = payloads.describe(engine._payloads.get(key, ()), u.payload)
        engine._add(key, Answer("udp", u.src, u.ttl, detail=said))
    elif name == "icmp":
        _icmp(engine, data)
    elif engine._scapy is not None:
        a = engine._scapy.decode_arp(data)
        if a is not None and a.asked_for == engine._src.get(a.ip):
            engine._add((a.ip, "arp", None), Answer("arp", a.ip, mac=a.mac))


def _icmp(engine: Engine, data: bytes) -> None:
    if len(data) < 28 or data[(data[0] & 0x0F) * 4] not in (0, 3, 11):
        return  # not an echo reply or an error: not ours
    from edgeaudit.probe import wire4  # a TCP-only sweep imports it only if ICMP arrives

    i = wire4.decode_icmp(data)
    if i is None:
        return
    if i.type == 0:  # echo reply
        if i.ident == engine.cookie.ident(i.reporter):
            engine._add((i.reporter, "icmp", None), Answer("echo", i.reporter, i.ttl), i.seq)
        return
    error = Answer("icmp", i.reporter, i.ttl, i.type, i.code)
    dst, dport = i.quoted_dst, i.quoted_dport
    if dst is None:
        return
    if i.quoted_protocol == "tcp" and dport is not None:
        cookie = engine._tcp.get((dst, "tcp", dport))  # kept when the probe was sent
        if (
            cookie is not None
            and i.quoted_sport == cookie[0]
            and i.quoted_seq is not None
            and (t := engine.cookie.try_of(cookie[1], i.quoted_seq)) is not None
        ):
            engine._add((dst, "tcp", dport), error, t)
    elif i.quoted_protocol == "udp" and dport is not None:
        if i.quoted_sport == engine.cookie.sport("udp", dst, dport):
            engine._add((dst, "udp", dport), error)
    elif i.quoted_protocol == "icmp" and i.ident == engine.cookie.ident(dst):
        engine._add((dst, "icmp", None), error)
