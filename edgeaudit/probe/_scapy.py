"""The one module that imports scapy (only the layers it needs: ``scapy.all`` costs 1.2 s).

Crafts ARP requests and decodes ARP replies (``arp: true``). UDP and ICMP are built and decoded
with ``struct`` (``wire4``): importing scapy costs a large part of a second. Imported by the
engine only when a run with ARP probes starts, i.e. inside the vantage namespace (scapy
imported earlier would keep the other namespace's interfaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from scapy.layers.l2 import ARP, Ether


def arp_request(src_mac: str, src_ip: str, dst_ip: str) -> bytes:
    frame = Ether(dst="ff:ff:ff:ff:ff:ff", src=src_mac) / ARP(
        op=1, hwsrc=src_mac, psrc=src_ip, pdst=dst_ip
    )
    return bytes(frame)


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
