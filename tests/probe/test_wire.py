"""The raw-socket fast path: SYN, UDP and ICMP bytes checked against scapy's encoder and
decoder, cookies, routes, the engine's scope guard (checked before any socket is opened)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.l2 import GRE
from scapy.packet import Packet, Raw

from edgeaudit.probe import wire, wire4
from edgeaudit.probe.engine import Engine, Params
from edgeaudit.probe.model import Probe, ScopeError


def test_syn_is_what_scapy_decodes() -> None:
    seg = wire.tcp_syn("198.18.1.10", "198.18.2.20", 40000, 443, 0xDEADBEEF)
    packet = IP(bytes(IP(src="198.18.1.10", dst="198.18.2.20", proto=6) / Raw(seg)))
    tcp = packet[TCP]
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.flags) == (40000, 443, 0xDEADBEEF, "S")
    assert tcp.options == [("MSS", 1460)]
    original = tcp.chksum
    del tcp.chksum
    assert IP(bytes(packet))[TCP].chksum == original  # scapy recomputes the same checksum


def test_parse_tcp_reply() -> None:
    raw = bytes(
        IP(src="198.18.2.20", dst="198.18.1.10", ttl=63)
        / TCP(sport=443, dport=40000, flags="SA", seq=5, ack=0xDEADBEF0)
    )
    r = wire.parse_tcp(raw)
    assert r is not None
    assert (r.src, r.ttl, r.sport, r.dport, r.ack) == ("198.18.2.20", 63, 443, 40000, 0xDEADBEF0)
    assert r.flags & wire.SYN
    assert r.flags & wire.ACK
    assert wire.parse_tcp(raw[:30]) is None


def test_cookies_are_keyed() -> None:
    a, b = wire.Cookie(b"k1"), wire.Cookie(b"k2")
    assert a.seq("1.1.1.1", 40000, "2.2.2.2", 22) == a.seq("1.1.1.1", 40000, "2.2.2.2", 22)
    assert a.seq("1.1.1.1", 40000, "2.2.2.2", 22) != b.seq("1.1.1.1", 40000, "2.2.2.2", 22)
    assert a.seq("1.1.1.1", 40000, "2.2.2.2", 22) != a.seq("1.1.1.1", 40000, "2.2.2.2", 23)
    ports = {a.sport("tcp", "2.2.2.2", p) for p in range(1, 2000)}
    assert all(wire.SPORT_BASE <= p < wire.SPORT_BASE + wire.SPORT_SPAN for p in ports)
    assert len(ports) > 1900  # spread out


@pytest.mark.parametrize(("ttl", "hops"), [(64, 0), (63, 1), (128, 0), (120, 8), (255, 0), (30, 2)])
def test_hops(ttl: int, hops: int) -> None:
    assert wire.hops(ttl) == hops


def test_route_longest_prefix(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t011212C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  # default via 198.18.18.1
        "eth0\t001212C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # 198.18.18.0/24 on-link
        "eth1\t000013C6\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"  # 198.19.0.0/16 on-link
    )
    assert wire.route("198.18.18.7", table) == wire.Route("eth0", None)
    assert wire.route("198.19.4.4", table) == wire.Route("eth1", None)
    assert wire.route("198.18.99.1", table) == wire.Route("eth0", "198.18.18.1")


def test_engine_scope_guard_before_any_packet() -> None:
    engine = Engine([ipaddress.ip_network("198.18.1.0/24")])
    stray = Probe("198.18.9.9", "tcp", 22, "seg-x", None, None, "deny")
    with pytest.raises(ScopeError, match=r"198\.18\.9\.9 is outside every segment"):
        engine.run([stray], Params())
    assert engine._socks == {}  # nothing was opened, let alone sent


def test_malformed_packets_are_not_ours() -> None:
    reply = bytes(IP(src="198.18.2.20", dst="198.18.1.10") / TCP(sport=443, dport=40000))
    assert wire.parse_tcp(b"\x4f" + reply[1:]) is None  # header length 60 > packet
    assert wire.parse_tcp(b"\x41" + reply[1:]) is None  # header length 4
    assert wire.parse_tcp(reply[:39]) is None
    engine = Engine([ipaddress.ip_network("198.18.0.0/15")])
    engine._load_scapy()
    for name in ("tcp", "udp", "icmp", "arp:eth0"):
        for junk in (b"", b"\x45", reply[:30], b"\x4f" * 64, bytes(range(256)), reply):
            engine._take(name, junk)  # ignored, never raised
    assert engine._c.answers == {}


# -- IPv4 UDP and ICMP with struct (wire4), read and written as scapy does ------------------


@pytest.mark.parametrize("payload", [b"", b"x", b"edgeaudit", bytes(range(256)) * 3])
def test_udp4_is_what_scapy_builds(payload: bytes) -> None:
    ours = wire4.udp4("198.18.1.10", "198.18.2.20", 40001, 623, payload)
    packet = IP(src="198.18.1.10", dst="198.18.2.20") / UDP(sport=40001, dport=623) / payload
    assert ours == bytes(packet)[20:]


def test_icmp_echo_is_what_scapy_builds() -> None:
    ours = wire4.icmp_echo(0xBEEF, 2, b"edgeaudit")
    assert ours == bytes(ICMP(type=8, code=0, id=0xBEEF, seq=2) / b"edgeaudit")


def _error(kind: int, code: int, quoted: Packet) -> bytes:
    outer = IP(src="198.18.2.1", dst="198.18.1.10", ttl=63, options=[IPOption(b"\x01\x01\x01\x00")])
    return bytes(outer / ICMP(type=kind, code=code) / bytes(quoted)[: 28 + 4])


def test_decode_icmp_echo_reply_and_errors() -> None:
    reply = IP(src="198.18.2.20", dst="198.18.1.10", ttl=62) / ICMP(type=0, id=7, seq=3) / b"x"
    assert wire4.decode_icmp(bytes(reply)) == wire4.IcmpAnswer("198.18.2.20", 62, 0, 0, 7, 3)
    probe = IP(src="198.18.1.10", dst="198.18.2.20")
    tcp = wire4.decode_icmp(_error(3, 13, probe / TCP(sport=40000, dport=22, seq=0xDEADBEEF)))
    assert tcp == wire4.IcmpAnswer(
        "198.18.2.1", 63, 3, 13, None, None, "tcp", "198.18.2.20", 40000, 22, 0xDEADBEEF
    )
    udp = wire4.decode_icmp(_error(3, 3, probe / UDP(sport=40001, dport=161)))
    assert udp == wire4.IcmpAnswer(
        "198.18.2.1", 63, 3, 3, None, None, "udp", "198.18.2.20", 40001, 161
    )
    echo = wire4.decode_icmp(_error(11, 0, probe / ICMP(type=8, id=9, seq=1)))
    assert echo == wire4.IcmpAnswer("198.18.2.1", 63, 11, 0, 9, 1, "icmp", "198.18.2.20")
    assert wire4.decode_icmp(_error(3, 2, probe / GRE())) is None  # not a probe of ours
    assert wire4.decode_icmp(_error(5, 1, probe / UDP())) is None  # a redirect
    assert wire4.decode_icmp(_error(3, 3, probe / UDP())[:58]) is None  # quote cut short
    assert wire4.decode_icmp(bytes(probe / UDP())) is None  # not ICMP


def test_decode_udp_reads_the_datagram_length() -> None:
    answer = IP(src="198.18.2.20", dst="198.18.1.10", ttl=61) / UDP(sport=161, dport=40001)
    raw = bytes(answer / b"agent") + b"\0\0\0"  # trailing bytes beyond the UDP length
    assert wire4.decode_udp(raw) == wire4.UdpAnswer("198.18.2.20", 61, 161, 40001, b"agent")
    assert wire4.decode_udp(raw[:27]) is None
    assert wire4.decode_udp(bytes(IP() / TCP())) is None
