"""The raw-socket fast path: IPv4 + TCP SYN built and decoded with ``struct`` (scapy costs tens
of microseconds per packet; a 65 535-port sweep needs a few), keyed cookies, and the kernel's
routing table for the hop count and the interface towards a target."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (start-up time)
if TYPE_CHECKING:  # the annotations are strings
    from typing import Final

SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10
_TCP = struct.Struct("!HHIIBBHHH")
_MSS = b"\x02\x04\x05\xb4"  # MSS 1460: a SYN without options stands out
SPORT_BASE: Final = 32768
SPORT_SPAN: Final = 28000


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


class Cookie:
    """Keyed cookies: a reply is ours only if it carries the HMAC of its 4-tuple."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, *parts: object) -> int:
        msg = "|".join(str(p) for p in parts).encode()
        return int.from_bytes(hmac.new(self.key, msg, hashlib.sha256).digest()[:8], "big")

    def sport(self, protocol: str, dst: str, dport: int) -> int:
        return SPORT_BASE + self._mac("sport", protocol, dst, dport) % SPORT_SPAN

    def seq(self, src: str, sport: int, dst: str, dport: int) -> int:
        return self._mac("seq", src, sport, dst, dport) & 0xFFFFFFFF

    @staticmethod
    def try_of(base: int, value: int) -> int | None:
        """Which try a sequence number ``base + try`` came from (None: not ours)."""
        t = (value - base) % 2**32
        return t if t < 32 else None

    def ident(self, dst: str) -> int:
        return self._mac("icmp", dst) & 0xFFFF


def tcp_syn(src: str, dst: str, sport: int, dport: int, seq: int) -> bytes:
    """A TCP SYN header (with MSS option) and a correct checksum, for a raw IPPROTO_TCP socket."""
    header = _TCP.pack(sport, dport, seq, 0, 6 << 4, SYN, 64240, 0, 0) + _MSS
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(header))
    csum = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


@dataclass(frozen=True, slots=True)
class TcpReply:
    src: str
    ttl: int
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int


def parse_tcp(packet: bytes) -> TcpReply | None:
    """An IPv4 packet as a raw IPPROTO_TCP socket returns it; None when not TCP/IPv4."""
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20 or len(packet) < ihl + 20:
        return None
    sport, dport, seq, ack, _, flags, _, _, _ = _TCP.unpack_from(packet, ihl)
    return TcpReply(socket.inet_ntoa(packet[12:16]), packet[8], sport, dport, seq, ack, flags)


def initial_ttl(ttl: int) -> int:
    for start in (32, 64, 128, 255):
        if ttl <= start:
            return start
    return 255


def hops(ttl: int) -> int:
    """Routers between the sender and us, assuming a common initial TTL."""
    return initial_ttl(ttl) - ttl


@dataclass(frozen=True, slots=True)
class Route:
    interface: str
    gateway: str | None  # None: the target is on the link


def route(dst: str, table: str | os.PathLike[str] = "/proc/net/route") -> Route:
    """The kernel's IPv4 route to ``dst`` (longest prefix match over this namespace's table)."""
    target = struct.unpack("!I", socket.inet_aton(dst))[0]
    best: tuple[int, Route] | None = None
    with open(table, encoding="ascii") as fh:  # noqa: PTH123 (pathlib costs start-up time)
        lines = fh.read().splitlines()[1:]
    for line in lines:
        f = line.split()
        if len(f) < 8:
            continue
        # the kernel prints each address's bytes as a little-endian hex number
        net = struct.unpack("<I", bytes.fromhex(f[1]))[0]
        gw = struct.unpack("<I", bytes.fromhex(f[2]))[0]
        mask = struct.unpack("<I", bytes.fromhex(f[7]))[0]
        if target & mask == net and (best is None or mask > best[0]):
            gateway = socket.inet_ntoa(struct.pack("!I", gw)) if gw else None
            best = (mask, Route(f[0], gateway))
    if best is None:
        raise OSError(f"no route to {dst}")
    return best[1]


def source_address(dst: str) -> str:
    """The address the kernel would send from towards ``dst`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((dst, 9))
        return str(s.getsockname()[0])


def mac_address(interface: str) -> str:
    with open(f"/sys/class/net/{interface}/address", encoding="ascii") as f:  # noqa: PTH123
        return f.read().strip()
