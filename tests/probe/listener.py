"""A tiny service for the namespace tests: accepts (and closes) TCP connections and answers UDP.

Run inside a host namespace: ``python listener.py --tcp 22,8443 --udp 53,623:bmc,161:snmp``;
prints ``ready`` once every port is bound. A plain UDP port echoes what it gets. ``bmc`` answers
only an RMCP/ASF presence ping (DMTF DSP0136) with a presence pong, like a BMC; ``snmp`` answers
only a well-formed SNMPv1/v2c GetRequest of sysDescr.0 with community ``public``, like an agent.
Both ignore anything else (an empty datagram above all). The bytes here are checked by hand,
independently of the engine's payload module.
"""

from __future__ import annotations

import argparse
import selectors
import socket

SYS_DESCR_OID = bytes.fromhex("06082b06010201010100")  # 1.3.6.1.2.1.1.1.0
DESCR = b"Linux lab-bmc 5.10 armv7l"


def bmc(data: bytes) -> bytes | None:
    # RMCP v6, seq 0xff, class ASF; ASF IANA 4542, type 0x80 (presence ping), tag, 0, len 0
    if len(data) != 12 or data[:4] != b"\x06\x00\xff\x06" or data[4:9] != b"\x00\x00\x11\xbe\x80":
        return None
    pong_data = b"\x00\x00\x11\xbe" + bytes(4) + b"\x81\x00" + bytes(6)  # entities: IPMI
    return b"\x06\x00\xff\x06\x00\x00\x11\xbe\x40" + data[9:10] + b"\x00\x10" + pong_data


def _tlv(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


def snmp(data: bytes) -> bytes | None:
    # 30 LL 02 01 VV 04 06 "public" A0 LL 02 LL <id> ... the sysDescr OID ... 05 00
    if len(data) < 2 or data[0] != 0x30 or data[1] != len(data) - 2:
        return None
    if data[2:4] != b"\x02\x01" or data[4] not in (0, 1) or data[5:13] != b"\x04\x06public":
        return None
    if data[13] != 0xA0 or data[15] != 0x02 or SYS_DESCR_OID + b"\x05\x00" not in data:
        return None
    request_id = data[15 : 17 + data[16]]
    varbind = _tlv(0x30, _tlv(0x30, SYS_DESCR_OID + _tlv(0x04, DESCR)))
    pdu = _tlv(0xA2, request_id + b"\x02\x01\x00\x02\x01\x00" + varbind)
    return _tlv(0x30, data[2:5] + data[5:13] + pdu)


SERVICES = {"bmc": bmc, "snmp": snmp}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", default="")
    p.add_argument("--udp", default="")
    args = p.parse_args()
    sel = selectors.DefaultSelector()
    for port in filter(None, args.tcp.split(",")):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)  # IPv4 and IPv6 alike
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", int(port)))
        s.listen(512)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")
    for spec in filter(None, args.udp.split(",")):
        port, _, kind = spec.partition(":")
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", int(port)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, kind or "echo")
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if key.data == "tcp":
                    conn, _ = sock.accept()
                    conn.close()
                    continue
                data, peer = sock.recvfrom(2048)
                answer = SERVICES[key.data](data) if key.data in SERVICES else data or b"pong"
                if answer is not None:
                    sock.sendto(answer, peer)
            except OSError:
                pass


if __name__ == "__main__":
    main()
