"""The little ASN.1 BER (ITU-T X.690) that SNMP needs: definite lengths, INTEGER, OCTET STRING,
NULL, OBJECT IDENTIFIER and constructed values, encoded and read back. Written for the probes'
requests and for reading just enough of an agent's answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OID: Final = 0x06
SEQUENCE: Final = 0x30


class BerError(ValueError):
    """Not well-formed BER (a truncated or garbled answer)."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def integer(n: int) -> bytes:
    """A two's-complement INTEGER in the fewest octets (X.690 8.3)."""
    size = max(1, (n.bit_length() + 8) // 8)
    return tlv(INTEGER, n.to_bytes(size, "big", signed=True))


def octets(b: bytes) -> bytes:
    return tlv(OCTET_STRING, b)


def null() -> bytes:
    return tlv(NULL, b"")


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER (X.690 8.19): the first two arcs in one subidentifier, base-128."""
    arcs = [int(a) for a in dotted.split(".")]
    subs = [40 * arcs[0] + arcs[1], *arcs[2:]]
    out = bytearray()
    for s in subs:
        chunk = [s & 0x7F]
        s >>= 7
        while s:
            chunk.append(0x80 | (s & 0x7F))
            s >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def seq(*parts: bytes, tag: int = SEQUENCE) -> bytes:
    return tlv(tag, b"".join(parts))


def read(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, offset after it) of the TLV at ``offset``."""
    if offset + 2 > len(data):
        raise BerError("truncated")
    tag, first = data[offset], data[offset + 1]
    pos = offset + 2
    if first & 0x80:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise BerError("bad length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        length = first
    if pos + length > len(data):
        raise BerError("truncated value")
    return tag, data[pos : pos + length], pos + length


def items(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The TLVs of a constructed value's contents, in order."""
    pos = 0
    while pos < len(data):
        tag, value, pos = read(data, pos)
        yield tag, value


def to_int(value: bytes) -> int:
    return int.from_bytes(value, "big", signed=True) if value else 0
