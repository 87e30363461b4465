"""IPv6 on raw sockets, with ``struct``: TCP SYN and UDP with the IPv6 pseudo-header checksum
(RFC 8200 8.1), ICMPv6 echo and error parsing (RFC 4443), neighbour solicitation and
advertisement (RFC 4861 4.3, 4.4) instead of ARP, and the kernel's IPv6 routing table.

A raw AF_INET6 socket hands over the transport header without the IPv6 header: the sender's
address comes from ``recvmsg`` and the hop limit from its ``IPV6_HOPLIMIT`` ancillary data.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.probe.wire import _MSS, _TCP, SYN, TcpReply, checksum

ECHO_REQUEST: Final = 128
ECHO_REPLY: Final = 129
DEST_UNREACH: Final = 1
TIME_EXCEEDED: Final = 3
NEIGHBOR_SOLICIT: Final = 135
NEIGHBOR_ADVERT: Final = 136
PORT_UNREACHABLE: Final = (DEST_UNREACH, 4)
_NEXT: Final = {6: "tcp", 17: "udp", 58: "icmp"}


def _pseudo(src: str, dst: str, length: int, next_header: int) -> bytes:
    return (
        socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, dst)
        + struct.pack("!I3xB", length, next_header)
    )


def tcp_syn6(src: str, dst: str, sport: int, dport: int, seq: int) -> bytes:
    header = _TCP.pack(sport, dport, seq, 0, 6 << 4, SYN, 64240, 0, 0) + _MSS
    csum = checksum(_pseudo(src, dst, len(header), 6) + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def udp6(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP datagram; the checksum is mandatory over IPv6 (0 is sent as 0xffff)."""
    length = 8 + len(payload)
    body = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = checksum(_pseudo(src, dst, length, 17) + body) or 0xFFFF
    return body[:6] + struct.pack("!H", csum) + body[8:]


def icmp6_echo(ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request; the kernel fills the checksum of raw ICMPv6 (RFC 3542 3.1)."""
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq) + payload


def solicited_node(target: str) -> str:
    """The solicited-node multicast address of ``target`` (RFC 4291 2.7.1)."""
    low = socket.inet_pton(socket.AF_INET6, target)[-3:]
    return str(ipaddress.IPv6Address(bytes.fromhex("ff02" + "00" * 9 + "01ff") + low))


def neighbor_solicit(target: str, mac: str) -> bytes:
    """NS for ``target`` with our link-layer address option (type 1)."""
    opt = bytes([1, 1]) + bytes.fromhex(mac.replace(":", ""))
    return (
        struct.pack("!BBHI", NEIGHBOR_SOLICIT, 0, 0, 0)
        + socket.inet_pton(socket.AF_INET6, target)
        + opt
    )


def parse_tcp6(data: bytes, src: str, hop_limit: int) -> TcpReply | None:
    if len(data) < 20:
        return None
    sport, dport, seq, ack, _, flags, _, _, _ = _TCP.unpack_from(data, 0)
    return TcpReply(src, hop_limit, sport, dport, seq, ack, flags)


@dataclass(frozen=True, slots=True)
class Udp6:
    src: str
    ttl: int
    sport: int
    dport: int
    payload: bytes


def parse_udp6(data: bytes, src: str, hop_limit: int) -> Udp6 | None:
    if len(data) < 8:
        return None
    sport, dport, length, _ = struct.unpack_from("!HHHH", data)
    return Udp6(src, hop_limit, sport, dport, data[8 : max(8, length)])


@dataclass(frozen=True, slots=True)
class Icmp6:
    reporter: str
    ttl: int
    type: int
    code: int
    ident: int | None = None
    quoted_protocol: str | None = None
    quoted_dst: str | None = None
    quoted_sport: int | None = None
    quoted_dport: int | None = None
    quoted_seq: int | None = None
    target: str | None = None  # neighbour advertisements: the address advertised
    mac: str | None = None  # ... and its target link-layer address option


def _target_lladdr(options: bytes) -> str | None:
    """The target link-layer address option (type 2, RFC 4861 4.6.1) of an advertisement."""
    pos = 0
    while pos + 2 <= len(options) and options[pos + 1]:
        kind, size = options[pos], options[pos + 1] * 8
        if kind == 2 and size >= 8:
            return ":".join(f"{b:02x}" for b in options[pos + 2 : pos + 8])
        pos += size
    return None


def parse_icmp6(data: bytes, src: str, hop_limit: int) -> Icmp6 | None:
    """An echo reply, an error quoting one of our probes, or a neighbour advertisement."""
    if len(data) < 8:
        return None
    kind, code = data[0], data[1]
    base = Icmp6(src, hop_limit, kind, code)
    if kind == ECHO_REPLY:
        return Icmp6(src, hop_limit, kind, code, ident=struct.unpack_from("!H", data, 4)[0])
    if kind == NEIGHBOR_ADVERT and len(data) >= 24:
        target = socket.inet_ntop(socket.AF_INET6, data[8:24])
        return Icmp6(src, hop_limit, kind, code, target=target, mac=_target_lladdr(data[24:]))
    if kind not in (DEST_UNREACH, TIME_EXCEEDED) or len(data) < 8 + 40 + 8:
        return None
    quoted = data[8:]
    protocol = _NEXT.get(quoted[6])  # no extension headers in our probes
    if protocol is None:
        return base
    dst = socket.inet_ntop(socket.AF_INET6, quoted[24:40])
    t = quoted[40:]
    if protocol == "icmp":
        ident = struct.unpack_from("!H", t, 4)[0]
        return Icmp6(src, hop_limit, kind, code, ident, "icmp", dst)
    sport, dport = struct.unpack_from("!HH", t)
    seq = struct.unpack_from("!I", t, 4)[0] if protocol == "tcp" else None
    return Icmp6(src, hop_limit, kind, code, None, protocol, dst, sport, dport, seq)


@dataclass(frozen=True, slots=True)
class Route6:
    interface: str
    gateway: str | None


def route6(dst: str, table: Path = Path("/proc/net/ipv6_route")) -> Route6:
    """The kernel's IPv6 route to ``dst`` (longest prefix over this namespace's main table)."""
    target = int(ipaddress.IPv6Address(dst))
    best: tuple[int, Route6] | None = None
    for line in table.read_text().splitlines():
        f = line.split()
        if len(f) < 10 or f[9] == "lo":
            continue
        net, plen, gw = int(f[0], 16), int(f[1], 16), int(f[4], 16)
        mask = ((1 << 128) - 1) ^ ((1 << (128 - plen)) - 1) if plen else 0
        if target & mask == net and (best is None or plen > best[0]):
            gateway = str(ipaddress.IPv6Address(gw)) if gw else None
            best = (plen, Route6(f[9], gateway))
    if best is None:
        raise OSError(f"no route to {dst}")
    return best[1]
