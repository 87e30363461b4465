"""UDP service requests: what to send so a service answers, and what its answer says.

BMCs, SNMP agents and most UDP services ignore an empty datagram, so a UDP probe carries a
request the service must answer, written from each protocol's specification (the RFC or
standard is named on each builder; the bytes are ours). The port picks the requests (several
may go per try, e.g. SNMP v1, v2c and v3); a plan may choose others per port
(``udp_payloads`` in ``probes.yaml``). Each payload also reads an answer far enough to say
what answered ("SNMP agent answered sysDescr: ..."), truncated; an answer it cannot read is
still an answer (the path is open), described by its size.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from edgeaudit.probe import ber

MAX_TEXT: Final = 60  # characters of an answer's text kept in a reason
SYS_DESCR: Final = "1.3.6.1.2.1.1.1.0"  # SNMPv2-MIB::sysDescr.0 (RFC 3418)
ASF_IANA: Final = 4542  # the ASF enterprise number in RMCP/ASF messages (DSP0136)


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a request may depend on: the addresses and ports of the probe, a per-probe 32-bit
    identifier (request ids, tags) and the SNMP community."""

    src: str
    dst: str
    sport: int
    dport: int
    ident: int
    community: bytes = b"public"


def _text(raw: bytes | str) -> str:
    s = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    s = " ".join("".join(c if c.isprintable() else " " for c in s).split())
    return s if len(s) <= MAX_TEXT else s[: MAX_TEXT - 1] + "…"


# -- SNMP ---------------------------------------------------------------------------------
def snmp_get(version: int) -> Callable[[Ctx], bytes]:
    """SNMPv1 (RFC 1157 4.1) / SNMPv2c (RFC 1901 3, RFC 3416 3) GetRequest of sysDescr.0:
    Message ::= SEQUENCE { version INTEGER (0 = v1, 1 = v2c), community OCTET STRING,
    GetRequest-PDU [0] { request-id, error-status 0, error-index 0, VarBindList } }."""

    def build(c: Ctx) -> bytes:
        varbinds = ber.seq(ber.seq(ber.oid(SYS_DESCR), ber.null()))
        pdu = ber.seq(
            ber.integer(c.ident & 0x7FFFFFFF),
            ber.integer(0),
            ber.integer(0),
            varbinds,
            tag=0xA0,
        )
        return ber.seq(ber.integer(version), ber.octets(c.community), pdu)

    return build


def snmp_v3_discovery(c: Ctx) -> bytes:
    """SNMPv3 engine discovery (RFC 3414 4): a reportable, unauthenticated GetRequest with an
    empty engine ID and user name (RFC 3412 6 message format, USM security parameters of RFC
    3414 2.4); an agent answers with a Report carrying its engine ID."""
    ident = c.ident & 0x7FFFFFFF
    header = ber.seq(ber.integer(ident), ber.integer(65507), ber.octets(b"\x04"), ber.integer(3))
    usm = ber.seq(
        ber.octets(b""), ber.integer(0), ber.integer(0), ber.octets(b""), ber.octets(b""),
        ber.octets(b""),
    )  # fmt: skip
    pdu = ber.seq(ber.integer(ident), ber.integer(0), ber.integer(0), ber.seq(), tag=0xA0)
    scoped = ber.seq(ber.octets(b""), ber.octets(b""), pdu)
    return ber.seq(ber.integer(3), header, ber.octets(usm), scoped)


def describe_snmp(data: bytes) -> str | None:
    tag, msg, _ = ber.read(data)
    if tag != ber.SEQUENCE:
        return None
    parts = list(ber.items(msg))
    if not parts or parts[0][0] != ber.INTEGER:
        return None
    version = ber.to_int(parts[0][1])
    if version == 3 and len(parts) >= 4:
        usm_tag, usm_raw = parts[2]
        engine = ""
        if usm_tag == ber.OCTET_STRING:
            _, usm, _ = ber.read(usm_raw)
            fields = list(ber.items(usm))
            engine = fields[0][1].hex() if fields else ""
        return f"SNMPv3 agent answered discovery (engine ID {engine[:32] or 'empty'})"
    if version not in (0, 1) or len(parts) < 3:
        return None
    name = "SNMPv1" if version == 0 else "SNMPv2c"
    pdu_tag, pdu = parts[2]
    if pdu_tag != 0xA2:
        return f"{name} agent answered (PDU type {pdu_tag:#x})"
    fields = list(ber.items(pdu))
    status = ber.to_int(fields[1][1]) if len(fields) > 1 else 0
    if status:
        return f"{name} agent answered with error-status {status}"
    for _, vb in ber.items(fields[3][1]) if len(fields) > 3 else ():
        pair = list(ber.items(vb))
        if len(pair) == 2 and pair[1][0] == ber.OCTET_STRING:
            return f"{name} agent answered sysDescr: {_text(pair[1][1])}"
    return f"{name} agent answered"


# -- IPMI / RMCP --------------------------------------------------------------------------
def rmcp_ping(c: Ctx) -> bytes:
    """RMCP/ASF Presence Ping (DMTF DSP0136 ASF 2.0, 3.2.2 RMCP header and 3.2.4.2 Presence
    Ping; IPMI 2.0 13.2 "IPMI is detected by the presence pong"): RMCP version 6, reserved,
    sequence 0xff (no RMCP ACK), class 6 (ASF); IANA 4542, type 0x80, tag, reserved, length 0."""
    return struct.pack("!BBBBIBBBB", 0x06, 0, 0xFF, 0x06, ASF_IANA, 0x80, c.ident & 0xFF, 0, 0)


def describe_rmcp(data: bytes) -> str | None:
    if len(data) < 12 or data[0] != 0x06 or data[3] & 0x1F != 0x06:
        return None
    iana, kind = struct.unpack_from("!IB", data, 4)
    if iana != ASF_IANA or kind != 0x40:
        return f"RMCP endpoint answered (ASF message type {kind:#x})"
    entities = data[12 + 8] if len(data) >= 21 else 0
    ipmi = " (IPMI supported)" if entities & 0x80 else ""
    return f"RMCP presence pong: a management controller answered{ipmi}"


# -- NTP, DNS, mDNS, NetBIOS --------------------------------------------------------------
def ntp_client(c: Ctx) -> bytes:
    """NTPv4 client request (RFC 5905 7.3): LI 0, VN 4, mode 3, the rest zero except the
    transmit timestamp, which the server copies into its origin timestamp."""
    return bytes([0x23]) + bytes(39) + struct.pack("!II", c.ident, 0)


def describe_ntp(data: bytes) -> str | None:
    if len(data) < 48 or data[0] & 0x07 not in (4, 5):
        return None
    return f"NTP server answered (version {(data[0] >> 3) & 7}, stratum {data[1]})"


def _qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def dns_query(c: Ctx) -> bytes:
    """DNS standard query (RFC 1035 4.1): recursion desired, one question: the root's NS."""
    return struct.pack("!HHHHHH", c.ident & 0xFFFF, 0x0100, 1, 0, 0, 0) + b"\0" + b"\0\x02\0\x01"


def mdns_query(c: Ctx) -> bytes:
    """mDNS one-shot query from a port other than 5353 (RFC 6762 5.1, 6.7: answered by unicast
    to the sender's port), for the DNS-SD service enumeration name (RFC 6763 9), PTR, IN."""
    return struct.pack("!HHHHHH", c.ident & 0xFFFF, 0, 1, 0, 0, 0) + _qname(
        "_services._dns-sd._udp.local"
    ) + struct.pack("!HH", 12, 1)  # fmt: skip


def _describe_dns(what: str) -> Callable[[bytes], str | None]:
    rcodes = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

    def describe(data: bytes) -> str | None:
        if len(data) < 12 or not data[2] & 0x80:  # QR: a response
            return None
        _, flags, _, an, _, _ = struct.unpack_from("!HHHHHH", data)
        rcode = rcodes.get(flags & 0x0F, str(flags & 0x0F))
        return f"{what} answered ({rcode}, {an} answer(s))"

    return describe


def netbios_nbstat(c: Ctx) -> bytes:
    """NetBIOS NODE STATUS REQUEST (RFC 1002 4.2.17): name "*" in first-level encoding (RFC
    1001 14.1, padded with NULs), question type NBSTAT (0x21), class IN."""
    name = b"*" + bytes(15)
    encoded = bytes(b for ch in name for b in (0x41 + (ch >> 4), 0x41 + (ch & 0x0F)))
    header = struct.pack("!HHHHHH", c.ident & 0xFFFF, 0, 1, 0, 0, 0)
    return header + bytes([32]) + encoded + b"\0" + struct.pack("!HH", 0x21, 1)


def describe_netbios(data: bytes) -> str | None:
    if len(data) < 12 or not data[2] & 0x80:
        return None
    pos = 12 + 34  # the answer's RR_NAME (the 32-byte encoded name)
    if len(data) < pos + 11 or struct.unpack_from("!H", data, pos)[0] != 0x21:
        return "NetBIOS name service answered"
    count = data[pos + 10]
    if count and len(data) >= pos + 11 + 15:
        name = _text(data[pos + 11 : pos + 26].rstrip(b" \0"))
        return f"NetBIOS name service answered: {name} ({count} name(s))"
    return "NetBIOS name service answered (no names)"


# -- text protocols -----------------------------------------------------------------------
def ssdp_msearch(c: Ctx) -> bytes:
    """SSDP unicast M-SEARCH (UPnP Device Architecture 2.0, 1.3.2): HOST is the device's
    address and port, no MX in a unicast search."""
    return (
        "M-SEARCH * HTTP/1.1\r\n"
        f"HOST: {c.dst}:{c.dport}\r\n"
        'MAN: "ssdp:discover"\r\n'
        "ST: ssdp:all\r\n"
        "USER-AGENT: edgeaudit/1 UPnP/2.0 probe/1\r\n\r\n"
    ).encode()


def _header(lines: list[str], name: str) -> str | None:
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep and k.strip().lower() == name:
            return v.strip()
    return None


def describe_ssdp(data: bytes) -> str | None:
    lines = data.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        return None
    server = _header(lines, "server")
    return f"SSDP device answered: {_text(server or lines[0])}"


def sip_options(c: Ctx) -> bytes:
    """SIP OPTIONS (RFC 3261 11.1, the mandatory headers of 8.1.1; branch magic cookie
    z9hG4bK of 8.1.1.7; rport of RFC 3581 so the answer comes back to our source port)."""
    tag = f"{c.ident:08x}"
    return (
        f"OPTIONS sip:{c.dst}:{c.dport} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {c.src}:{c.sport};branch=z9hG4bK{tag};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:edgeaudit-probe@{c.src}>;tag={tag}\r\n"
        f"To: <sip:{c.dst}:{c.dport}>\r\n"
        f"Call-ID: {tag}@{c.src}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:edgeaudit-probe@{c.src}:{c.sport}>\r\n"
        "Accept: application/sdp\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def describe_sip(data: bytes) -> str | None:
    lines = data.decode("latin-1").split("\r\n")
    if not lines[0].startswith("SIP/2.0 "):
        return None
    agent = _header(lines, "server") or _header(lines, "user-agent")
    return f"SIP endpoint answered: {_text(lines[0] + (f' ({agent})' if agent else ''))}"


def tftp_rrq(c: Ctx) -> bytes:
    """TFTP read request (RFC 1350 5): opcode 1, a file name, mode "octet"."""
    return b"\x00\x01" + b"edgeaudit-probe" + b"\0" + b"octet" + b"\0"


def describe_tftp(data: bytes) -> str | None:
    if len(data) < 4 or data[0] != 0:
        return None
    if data[1] == 5:
        code = struct.unpack_from("!H", data, 2)[0]
        message = data[4:].split(b"\0")[0]
        return f"TFTP server answered: error {code} {_text(message)}"
    if data[1] in (3, 6):  # DATA, or OACK (RFC 2347)
        return "TFTP server answered the read request"
    return None


def memcached_version(c: Ctx) -> bytes:
    """memcached over UDP (memcached protocol.txt, "UDP protocol"): the 8-byte frame header
    (request id, sequence 0, 1 datagram, reserved) and the text command ``version``."""
    return struct.pack("!HHHH", c.ident & 0xFFFF, 0, 1, 0) + b"version\r\n"


def describe_memcached(data: bytes) -> str | None:
    body = data[8:]
    if len(data) < 8 or not body.startswith((b"VERSION", b"ERROR", b"SERVER_ERROR")):
        return None
    first = body.split(b"\r\n")[0]
    return f"memcached answered: {_text(first)}"


def radius_access_request(c: Ctx) -> bytes:
    """RADIUS Access-Request (RFC 2865 4.1): code 1, identifier, length, a Request
    Authenticator (16 octets, unpredictable), User-Name (1) and a User-Password (2) of one
    16-octet block. Servers silently drop clients they share no secret with (RFC 2865 3), so
    silence here says little; an answer proves a server."""
    auth = hashlib.sha256(b"radius|%d|%s" % (c.ident, c.dst.encode())).digest()[:16]
    attrs = bytes([1, 2 + 15]) + b"edgeaudit-probe" + bytes([2, 18]) + bytes(16)
    return struct.pack("!BBH", 1, c.ident & 0xFF, 20 + len(attrs)) + auth + attrs


def describe_radius(data: bytes) -> str | None:
    names = {2: "Access-Accept", 3: "Access-Reject", 11: "Access-Challenge"}
    if len(data) < 20 or data[0] not in names:
        return None
    return f"RADIUS server answered {names[data[0]]}"


@dataclass(frozen=True, slots=True)
class Payload:
    name: str
    build: Callable[[Ctx], bytes]
    describe: Callable[[bytes], str | None]


PAYLOADS: Final[Mapping[str, Payload]] = {
    p.name: p
    for p in (
        Payload("snmp-v1-get", snmp_get(0), describe_snmp),
        Payload("snmp-v2c-get", snmp_get(1), describe_snmp),
        Payload("snmp-v3-discovery", snmp_v3_discovery, describe_snmp),
        Payload("rmcp-ping", rmcp_ping, describe_rmcp),
        Payload("ntp", ntp_client, describe_ntp),
        Payload("dns", dns_query, _describe_dns("DNS server")),
        Payload("mdns", mdns_query, _describe_dns("mDNS responder")),
        Payload("netbios-ns", netbios_nbstat, describe_netbios),
        Payload("ssdp", ssdp_msearch, describe_ssdp),
        Payload("sip-options", sip_options, describe_sip),
        Payload("tftp-rrq", tftp_rrq, describe_tftp),
        Payload("memcached", memcached_version, describe_memcached),
        Payload("radius", radius_access_request, describe_radius),
    )
}
BY_PORT: Final[Mapping[int, tuple[str, ...]]] = {
    53: ("dns",),
    69: ("tftp-rrq",),
    123: ("ntp",),
    137: ("netbios-ns",),
    161: ("snmp-v2c-get", "snmp-v1-get", "snmp-v3-discovery"),
    623: ("rmcp-ping",),
    1645: ("radius",),
    1812: ("radius",),
    1900: ("ssdp",),
    5060: ("sip-options",),
    5353: ("mdns",),
    11211: ("memcached",),
}


def for_port(port: int, override: Mapping[int, tuple[str, ...]] | None = None) -> tuple[str, ...]:
    """The payload names sent to ``port`` (a plan's override first; none: an empty datagram)."""
    if override and port in override:
        return override[port]
    return BY_PORT.get(port, ())


def describe(names: tuple[str, ...], data: bytes) -> str:
    """What answered, from the first payload that can read ``data``."""
    for name in names:
        try:
            said = PAYLOADS[name].describe(data)
        except (ber.BerError, IndexError, ValueError, struct.error):
            said = None
        if said:
            return said
    return f"{len(data)} byte(s) of udp payload"
