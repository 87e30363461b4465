"""The tenant isolation matrix (``policies/isolation.yaml``): which segment may reach which
segment on which ports. Default deny; everything not allowed by a rule is denied.

::

    version: "2026.11-1"          # recorded in every probe run
    default: deny                 # the only supported default
    management_ports:             # probed on every target, in addition to allowed ports;
      tcp: [8443]                 # these lists extend the defaults (tcp 22 443 3389 5900,
      udp: []                     # udp 623 161), they never replace them
    allow:
      - {from: seg-mgmt, to: seg-fintech, tcp: [22, 9100-9102], icmp: true, reason: "..."}

Validated against the inventory on load; every error names the file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from edgeaudit.collect.inventory import Inventory
from edgeaudit.errors import InputError
from edgeaudit.yamlfile import Node, load_yaml

PROTOCOLS: Final = ("tcp", "udp", "icmp", "arp")
DEFAULT_MANAGEMENT_TCP: Final = (22, 443, 3389, 5900)
DEFAULT_MANAGEMENT_UDP: Final = (161, 623)
MAX_RANGE: Final = 4096  # a port range in a rule longer than this is almost surely a typo


@dataclass(frozen=True, slots=True)
class Ports:
    """TCP and UDP port numbers, sorted and unique."""

    tcp: tuple[int, ...] = ()
    udp: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AllowRule:
    """``src`` may reach ``dst`` on these ports (and ICMP echo when ``icmp``)."""

    src: str
    dst: str
    tcp: tuple[int, ...]
    udp: tuple[int, ...]
    icmp: bool
    reason: str
    line: int

    def allows(self, protocol: str, port: int | None) -> bool:
        if protocol == "icmp":
            return self.icmp
        if protocol in ("tcp", "udp"):
            ports = self.tcp if protocol == "tcp" else self.udp
            return bool(ports) if port is None else port in ports
        return False  # arp: a rule between two segments never shares a broadcast domain

    @property
    def any(self) -> bool:
        return self.icmp or bool(self.tcp) or bool(self.udp)


@dataclass(frozen=True, slots=True)
class PairPolicy:
    """Whether ``src`` may reach ``dst`` on anything at all."""

    src: str
    dst: str
    allowed: bool


@dataclass(frozen=True)
class IsolationMatrix:
    version: str
    rules: tuple[AllowRule, ...]
    management_ports: Ports
    segments: frozenset[str]
    file: str = "isolation.yaml"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_pair", {(r.src, r.dst): r for r in self.rules})

    def rule(self, src_segment: str, dst_segment: str) -> AllowRule | None:
        self._check(src_segment, dst_segment)
        found: AllowRule | None = self._by_pair.get((src_segment, dst_segment))  # type: ignore[attr-defined]
        return found

    def _check(self, *segments: str) -> None:
        for s in segments:
            if s not in self.segments:
                known = ", ".join(sorted(self.segments))
                raise InputError(f"{self.file}: unknown segment {s!r} (known: {known})")

    def allows(self, src_segment: str, dst_segment: str, protocol: str, port: int | None) -> bool:
        """May ``src_segment`` reach ``dst_segment`` with ``protocol``/``port``? Within one
        segment everything is allowed (the matrix governs traffic between segments); ARP
        only within one segment (a broadcast domain shared across segments is a leak)."""
        if protocol not in PROTOCOLS:
            raise InputError(f"protocol {protocol!r} must be one of {', '.join(PROTOCOLS)}")
        self._check(src_segment, dst_segment)
        if src_segment == dst_segment:
            return True
        rule = self.rule(src_segment, dst_segment)
        return rule is not None and rule.allows(protocol, port)

    def pairs(self, segment_ids: Iterable[str]) -> tuple[PairPolicy, ...]:
        """Every ordered pair of distinct segments, with whether anything at all is allowed."""
        ids = list(dict.fromkeys(segment_ids))
        self._check(*ids)
        out = []
        for src in ids:
            for dst in ids:
                if src != dst:
                    rule = self.rule(src, dst)
                    out.append(PairPolicy(src, dst, rule is not None and rule.any))
        return tuple(out)


def load_isolation(path: str | Path, inventory: Inventory) -> IsolationMatrix:
    """Load and validate an isolation matrix against ``inventory``'s segments."""
    return _build(load_yaml(path, "isolation matrix"), inventory)


def _line(n: Node) -> int:
    return int(n.node.start_mark.line) + 1


def parse_ports(n: Node, what: str) -> tuple[int, ...]:
    """A list of ports (``22``) and ranges (``"9100-9102"``); duplicates are an error."""
    out: list[int] = []
    seen: set[int] = set()
    for item in n.items():
        raw = item.text(what).strip()
        lo_s, sep, hi_s = raw.partition("-")
        try:
            lo = int(lo_s, 10)
            hi = int(hi_s, 10) if sep else lo
        except ValueError:
            raise item.fail(
                f"{what} {raw!r} must be a port number or a range such as 8000-8010"
            ) from None
        if not 1 <= lo <= hi <= 65535:
            raise item.fail(f"{what} {raw!r} must be within 1-65535 (and low <= high)")
        if hi - lo >= MAX_RANGE:
            raise item.fail(f"{what} range {raw!r} spans more than {MAX_RANGE} ports")
        for port in range(lo, hi + 1):
            if port in seen:
                raise item.fail(f"{what} {port} is listed twice")
            seen.add(port)
            out.append(port)
    return tuple(sorted(out))


def _build(root: Node, inventory: Inventory) -> IsolationMatrix:
    top = root.mapping({"version", "default", "management_ports", "allow"}, {"version", "default"})
    version = top["version"].text("version")
    default = top["default"].text("default")
    if default != "deny":
        raise top["default"].fail(f"default must be 'deny' (got {default!r})")
    segments = frozenset(s.id for s in inventory.segments)
    if not segments:
        raise root.fail("the inventory declares no segments; an isolation matrix needs them")

    tcp, udp = set(DEFAULT_MANAGEMENT_TCP), set(DEFAULT_MANAGEMENT_UDP)
    if "management_ports" in top:
        m = top["management_ports"].mapping({"tcp", "udp"}, set())
        tcp |= set(parse_ports(m["tcp"], "management tcp port")) if "tcp" in m else set()
        udp |= set(parse_ports(m["udp"], "management udp port")) if "udp" in m else set()

    def segment(n: Node) -> str:
        value = n.text("segment")
        if value not in segments:
            raise n.fail(f"unknown segment {value!r} (known: {', '.join(sorted(segments))})")
        return value

    rules: list[AllowRule] = []
    seen: dict[tuple[str, str], int] = {}
    for n in top["allow"].items() if "allow" in top else ():
        f = n.mapping({"from", "to", "tcp", "udp", "icmp", "reason"}, {"from", "to", "reason"})
        src, dst = segment(f["from"]), segment(f["to"])
        if src == dst:
            raise n.fail(
                f"rule from {src!r} to itself: the matrix governs traffic between segments"
            )
        if (src, dst) in seen:
            raise n.fail(
                f"duplicate rule from {src!r} to {dst!r} (first at line {seen[(src, dst)]}); "
                "put all ports of a pair in one rule"
            )
        seen[(src, dst)] = _line(n)
        rule = AllowRule(
            src=src,
            dst=dst,
            tcp=parse_ports(f["tcp"], "tcp port") if "tcp" in f else (),
            udp=parse_ports(f["udp"], "udp port") if "udp" in f else (),
            icmp=f["icmp"].boolean("icmp") if "icmp" in f else False,
            reason=f["reason"].text("reason"),
            line=_line(n),
        )
        if not rule.any:
            raise n.fail(f"rule from {src!r} to {dst!r} allows nothing (no tcp, udp or icmp)")
        rules.append(rule)
    return IsolationMatrix(
        version=version,
        rules=tuple(rules),
        management_ports=Ports(tuple(sorted(tcp)), tuple(sorted(udp))),
        segments=segments,
        file=root.file,
    )
