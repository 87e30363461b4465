"""The one module that imports scapy (only the layers it needs: ``scapy.all`` costs 1.2 s).

Crafts the UDP, ICMP echo and ARP probes and decodes ICMP, UDP and ARP answers. Imported by
the engine only when a run starts, i.e. inside the vantage namespace (scapy imported earlier
would keep the other namespace's interfaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.inet import ICMP, IP, UDP, ICMPerror, IPerror, TCPerror, UDPerror
from scapy.layers.l2 import ARP, Ether

ECHO_REPLY, DEST_UNREACH, TIME_EXCEEDED = 0, 3, 11


def udp_probe(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header + payload (checksum over the pseudo header) for a raw IPPROTO_UDP socket."""
    packet = IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload
    return bytes(packet)[20:]


def icmp_echo(ident: int, seq: int, payload: bytes) -> bytes:
    return bytes(ICMP(type=8, code=0, id=ident, seq=seq) / payload)


def arp_request(src_mac: str, src_ip: str, dst_ip: str) -> bytes:
    frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) / ARP(
        op=1, hwsrc=src_mac, psrc=src_ip, pdst=dst_ip
    )
    return bytes(frame)


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
    ip = IP(packet)
    if ICMP not in ip:
        return None
    icmp = ip[ICMP]
    base = {"reporter": ip.src, "ttl": ip.ttl, "type": int(icmp.type), "code": int(icmp.code)}
    if icmp.type == ECHO_REPLY:
        return IcmpAnswer(**base, ident=int(icmp.id), seq=int(icmp.seq))
    if icmp.type not in (DEST_UNREACH, TIME_EXCEEDED) or IPerror not in ip:
        return None
    quoted = ip[IPerror]
    if TCPerror in ip:
        t = ip[TCPerror]
        return IcmpAnswer(
            **base,
            quoted_protocol="tcp",
            quoted_dst=quoted.dst,
            quoted_sport=int(t.sport),
            quoted_dport=int(t.dport),
            quoted_seq=int(t.seq),
        )
    if UDPerror in ip:
        u = ip[UDPerror]
        return IcmpAnswer(
            **base,
            quoted_protocol="udp",
            quoted_dst=quoted.dst,
            quoted_sport=int(u.sport),
            quoted_dport=int(u.dport),
        )
    if ICMPerror in ip:
        e = ip[ICMPerror]
        return IcmpAnswer(
            **base, quoted_protocol="icmp", quoted_dst=quoted.dst, ident=int(e.id), seq=int(e.seq)
        )
    return None


@dataclass(frozen=True, slots=True)
class UdpAnswer:
    src: str
    ttl: int
    sport: int
    dport: int
    payload: bytes


def decode_udp(packet: bytes) -> UdpAnswer | None:
    ip = IP(packet)
    if UDP not in ip:
        return None
    u = ip[UDP]
    start = (packet[0] & 0x0F) * 4 + 8  # the datagram's own bytes, not scapy's re-encoding
    end = (packet[0] & 0x0F) * 4 + int(u.len) if u.len else len(packet)
    return UdpAnswer(ip.src, int(ip.ttl), int(u.sport), int(u.dport), packet[start:end])


@dataclass(frozen=True, slots=True)
class ArpAnswer:
    ip: str
    mac: str
    asked_for: str  # the address the reply's target field names (us)


def decode_arp(frame: bytes) -> ArpAnswer | None:
    eth = Ether(frame)
    if ARP not in eth or eth[ARP].op != 2:
        return None
    a = eth[ARP]
    return ArpAnswer(str(a.psrc), str(a.hwsrc), str(a.pdst))
