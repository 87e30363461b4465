"""IPv4 UDP and ICMP on raw sockets, with ``struct``: UDP datagrams with the pseudo-header
checksum (RFC 768), ICMP echo requests (RFC 792), and the answers decoded: echo replies and the
destination-unreachable and time-exceeded errors quoting one of our probes (RFC 792: the IP
header and at least the first 8 bytes of the datagram), and UDP answers.

A raw IPv4 socket hands over the whole packet, IP header first. Importing scapy for these
costs a large part of a second at start; only ARP still uses it (``_scapy``).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from edgeaudit.probe.wire import checksum

ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED = 0, 3, 8, 11
_PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp"}


def udp4(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header + payload for a raw IPPROTO_UDP socket (the kernel adds the IP header); a
    computed checksum of 0 is sent as 0xffff (0 means none, RFC 768)."""
    length = 8 + len(payload)
    body = struct.pack("!HHHH", sport, dport, length, 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    csum = checksum(pseudo + body) or 0xFFFF
    return body[:6] + struct.pack("!H", csum) + body[8:]


def icmp_echo(ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request with its checksum (a raw IPv4 socket does not fill it)."""
    body = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq) + payload
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def _ip(packet: bytes, protocol: int) -> int | None:
    """The IP header length of an IPv4 ``packet`` carrying ``protocol``, None if it is not."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != protocol:
        return None
    ihl = (packet[0] & 0x0F) * 4
    return ihl if ihl >= 20 and len(packet) >= ihl + 8 else None


@dataclass(frozen=True, slots=True)
class IcmpAnswer:
    reporter: str  # who sent the ICMP message
    ttl: int
    type: int
    code: int
    ident: int | None = None  # echo replies
    seq: int | None = None
    # ICMP errors: the quoted probe
    quoted_protocol: str | None = None
    quoted_dst: str | None = None
    quoted_sport: int | None = None
    quoted_dport: int | None = None
    quoted_seq: int | None = None


def decode_icmp(packet: bytes) -> IcmpAnswer | None:
    """An echo reply, or an unreachable / time-exceeded error quoting a TCP, UDP or ICMP
    packet; None for anything else."""
    ihl = _ip(packet, 1)
    if ihl is None:
        return None
    reporter, ttl = socket.inet_ntoa(packet[12:16]), packet[8]
    kind, code = packet[ihl], packet[ihl + 1]
    if kind == ECHO_REPLY:
        ident, seq = struct.unpack_from("!HH", packet, ihl + 4)
        return IcmpAnswer(reporter, ttl, kind, code, ident=ident, seq=seq)
    if kind not in (DEST_UNREACH, TIME_EXCEEDED):
        return None
    quoted = packet[ihl + 8 :]
    if len(quoted) < 20 or quoted[0] >> 4 != 4:
        return None
    qihl = (quoted[0] & 0x0F) * 4
    protocol = _PROTOCOLS.get(quoted[9])
    if protocol is None or qihl < 20 or len(quoted) < qihl + 8:
        return None
    dst = socket.inet_ntoa(quoted[16:20])
    if protocol == "icmp":
        ident, seq = struct.unpack_from("!HH", quoted, qihl + 4)
        return IcmpAnswer(
            reporter, ttl, kind, code, ident=ident, seq=seq, quoted_protocol="icmp", quoted_dst=dst
        )
    sport, dport = struct.unpack_from("!HH", quoted, qihl)
    seq_ = struct.unpack_from("!I", quoted, qihl + 4)[0] if protocol == "tcp" else None
    return IcmpAnswer(reporter, ttl, kind, code, None, None, protocol, dst, sport, dport, seq_)


@dataclass(frozen=True, slots=True)
class UdpAnswer:
    src: str
    ttl: int
    sport: int
    dport: int
    payload: bytes


def decode_udp(packet: bytes) -> UdpAnswer | None:
    """A UDP datagram: its sender, TTL, ports and payload (as long as its length field says)."""
    ihl = _ip(packet, 17)
    if ihl is None:
        return None
    sport, dport, length = struct.unpack_from("!HHH", packet, ihl)
    end = ihl + length if length else len(packet)
    return UdpAnswer(
        socket.inet_ntoa(packet[12:16]), packet[8], sport, dport, packet[ihl + 8 : end]
    )
