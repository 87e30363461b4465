"""UDP service requests: each is read back by an independent decoder (scapy's dissectors, which
share no code with ours) as the request its specification describes, and typical answers are
described by what answered."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from edgeaudit.probe import ber
from edgeaudit.probe.payloads import BY_PORT, PAYLOADS, Ctx, describe, for_port

CTX = Ctx("198.18.1.10", "198.18.2.20", 40000, 161, 0x12345678, b"s3cret")


def build(name: str, **kw: int) -> bytes:
    return PAYLOADS[name].build(dataclasses.replace(CTX, **kw))


def test_snmp_get_requests() -> None:
    from scapy.layers.snmp import SNMP

    for name, version in (("snmp-v1-get", 0), ("snmp-v2c-get", 1)):
        msg = SNMP(build(name))
        assert msg.version.val == version
        assert msg.community.val == b"s3cret"
        assert type(msg.PDU).__name__ == "SNMPget"
        assert msg.PDU.id.val == 0x12345678
        assert [vb.oid.val for vb in msg.PDU.varbindlist] == ["1.3.6.1.2.1.1.1.0"]


def test_snmp_v3_discovery_is_reportable_and_unauthenticated() -> None:
    _, msg, end = ber.read(build("snmp-v3-discovery"))
    assert end == len(build("snmp-v3-discovery"))
    version, header, secparams, scoped = list(ber.items(msg))
    assert ber.to_int(version[1]) == 3
    _msg_id, max_size, flags, model = list(ber.items(header[1]))
    assert (flags[1], ber.to_int(model[1])) == (b"\x04", 3)  # reportable, USM
    assert ber.to_int(max_size[1]) >= 484
    _, usm, _ = ber.read(secparams[1])
    assert [v for _, v in ber.items(usm)] == [b"", b"\x00", b"\x00", b"", b"", b""]
    assert list(ber.items(scoped[1]))[2][0] == 0xA0  # a GetRequest


def test_rmcp_presence_ping() -> None:
    ping = build("rmcp-ping")
    # RMCP: version 6, reserved, seq 0xff (no ACK), class ASF; ASF: IANA 4542, ping 0x80
    assert ping[:4] == b"\x06\x00\xff\x06"
    assert struct.unpack("!I", ping[4:8])[0] == 4542
    assert (ping[8], ping[10], ping[11], len(ping)) == (0x80, 0, 0, 12)


def test_requests_decoded_by_scapy() -> None:
    from scapy.layers.dns import DNS
    from scapy.layers.netbios import NBNSHeader
    from scapy.layers.ntp import NTP
    from scapy.layers.radius import Radius
    from scapy.layers.tftp import TFTP

    ntp = NTP(build("ntp"))
    assert (ntp.version, ntp.mode, ntp.sent) == (4, 3, 0x12345678)
    dns = DNS(build("dns"))
    assert (dns.qr, dns.rd, dns.qdcount, dns.qd[0].qtype) == (0, 1, 1, 2)
    mdns = DNS(build("mdns"))
    assert mdns.qd[0].qname == b"_services._dns-sd._udp.local."
    assert mdns.qd[0].qtype == 12
    nb = NBNSHeader(build("netbios-ns"))
    assert nb.QDCOUNT == 1
    assert nb.payload.QUESTION_TYPE == 0x21
    assert nb.payload.QUESTION_NAME.rstrip(b"\0") == b"*"  # "*" padded with NULs
    radius = Radius(build("radius"))
    assert radius.code == 1
    assert radius.len == len(build("radius"))
    assert [a.type for a in radius.attributes] == [1, 2]
    tftp = TFTP(build("tftp-rrq"))
    assert tftp.op == 1
    assert tftp.payload.mode == b"octet"


def test_text_requests() -> None:
    ssdp = build("ssdp", dport=1900).decode()
    assert ssdp.startswith("M-SEARCH * HTTP/1.1\r\nHOST: 198.18.2.20:1900\r\n")
    assert 'MAN: "ssdp:discover"' in ssdp
    assert ssdp.endswith("\r\n\r\n")
    sip = build("sip-options", dport=5060).decode()
    assert sip.startswith("OPTIONS sip:198.18.2.20:5060 SIP/2.0\r\n")
    for header in ("Via: SIP/2.0/UDP 198.18.1.10:40000;branch=z9hG4bK", "Max-Forwards: 70",
                   "CSeq: 1 OPTIONS", "Call-ID: ", "To: <sip:", "From: <sip:"):  # fmt: skip
        assert "\r\n" + header in sip
    mc = build("memcached")
    assert mc[2:8] == b"\x00\x00\x00\x01\x00\x00"
    assert mc[8:] == b"version\r\n"


@pytest.mark.parametrize(
    ("names", "answer", "said"),
    [
        (
            ("rmcp-ping",),
            bytes.fromhex("0600ff06000011be4000001000000000000000008100000000000000"),
            "RMCP presence pong: a management controller answered (IPMI supported)",
        ),
        (("ntp",), bytes([0x24, 2]) + bytes(46), "NTP server answered (version 4, stratum 2)"),
        (("dns",), bytes.fromhex("567881830001000000000000"), "DNS server answered (NXDOMAIN, 0"),
        (("ssdp",), b"HTTP/1.1 200 OK\r\nSERVER: Linux UPnP/2.0 x/1\r\n\r\n", "SSDP device"),
        (("sip-options",), b"SIP/2.0 200 OK\r\nServer: pbx 1.2\r\n\r\n", "SIP/2.0 200 OK (pbx"),
        (("tftp-rrq",), b"\x00\x05\x00\x01File not found\x00", "error 1 File not found"),
        (("memcached",), bytes(8) + b"VERSION 1.6.21\r\n", "memcached answered: VERSION 1.6.21"),
        (("radius",), bytes([3, 7, 0, 20]) + bytes(16), "RADIUS server answered Access-Reject"),
        (("snmp-v2c-get",), b"\x30\x03\x02\x01", "4 byte(s) of udp payload"),  # truncated BER
        ((), b"hello", "5 byte(s) of udp payload"),
    ],
)
def test_answers_described(names: tuple[str, ...], answer: bytes, said: str) -> None:
    assert said in describe(names, answer)


def test_snmp_answer_text_is_truncated() -> None:
    descr = b"x" * 200
    varbind = ber.seq(ber.seq(ber.oid("1.3.6.1.2.1.1.1.0"), ber.octets(descr)))
    pdu = ber.seq(ber.integer(1), ber.integer(0), ber.integer(0), varbind, tag=0xA2)
    answer = ber.seq(ber.integer(1), ber.octets(b"public"), pdu)
    said = describe(("snmp-v2c-get",), answer)
    assert said.startswith("SNMPv2c agent answered sysDescr: xxx")
    assert len(said) < 100


def test_payloads_by_port_and_override() -> None:
    assert for_port(623) == ("rmcp-ping",)
    assert set(for_port(161)) == {"snmp-v1-get", "snmp-v2c-get", "snmp-v3-discovery"}
    assert for_port(9999) == ()
    assert for_port(623, {623: ()}) == ()
    assert for_port(10161, {10161: ("snmp-v2c-get",)}) == ("snmp-v2c-get",)
    assert all(n in PAYLOADS for names in BY_PORT.values() for n in names)
