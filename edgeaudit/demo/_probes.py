"""Segmentation evidence: nmap ``-oX`` scans from each vantage segment, a missed scheduled run.

Each probe plan of ``policies/probes.yaml`` whose vantage has a positive control (a TCP path the
isolation matrix allows) gets one scan early in the quarter and one late in it: a combined SYN
and UDP scan (``nmap -sS -sU -Pn -n``) of every inventory address of the plan's target segments,
on every port the plan probes (:func:`edgeaudit.probe.plan.expand`: the matrix's allowed ports,
its management ports and the plan's extra ports). What the network answers:

* an allowed path reaches the host: an open port answers SYN/ACK (UDP: a reply), a closed one a
  reset from the host (UDP: ICMP port-unreachable from the host itself), so every positive
  control passes and allowed UDP paths are decisive too;
* the pod's firewall rejects every denied path with ICMP administratively-prohibited from the
  vantage segment's gateway: ``blocked``, for UDP as well (silence would be inconclusive).

Planted (not in the clean campus): a denied path the latest scan of a vantage finds open
(``LEAK``: seg-ai reaching fintech-a's PostgreSQL on fa-db-01), and a scheduled run of a plan
that was missed (``MISSED``), written as the ``probe.missed`` record ``edgeaudit probe
schedule`` appends (:func:`edgeaudit.probe.records.missed_event`), one JSON object per line,
for ``edgeaudit append``.
"""

# ruff: noqa: S311  (seeded, reproducible demo data: no secrets)

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from edgeaudit.collect.inventory import Inventory
from edgeaudit.collect.inventory_types import Asset
from edgeaudit.demo._common import entry, iso
from edgeaudit.errors import ConfigError
from edgeaudit.policy.isolation import IsolationMatrix
from edgeaudit.probe.model import Probe
from edgeaudit.probe.plan import Plan, expand
from edgeaudit.probe.records import missed_event
from edgeaudit.probe.schedule import due_times, rfc3339

DAY: Final = 86400.0
NMAP_VERSION: Final = "7.94"
RETRIES: Final = 2  # --max-retries: 3 tries per port
SCAN_DAYS: Final = (13, 76)  # days into the quarter (2026Q3: Tue 14 July, Tue 15 September)
SCAN_HOUR: Final = 5.5 * 3600  # 05:30 UTC (11:00 at the site), one vantage after another
# planted: a denied path open on the latest scan of the vantage (a mid-quarter firewall change
# let ai-c's GPU host reach fintech-a's database)
LEAK: Final[dict[str, Any]] = {
    "vantage": "seg-ai",
    "asset": "fa-db-01",
    "protocol": "tcp",
    "port": 5432,
}
# planted: a weekly run of this plan missed (the scheduler on its probe host was down)
MISSED: Final[dict[str, Any]] = {"plan": "media-isolation", "after_days": 44, "down_for": 26_329}
MISSED_PATH: Final = "probe/missed-runs.jsonl"

# what answers on each host when a packet gets through (anything else: closed)
LISTENING: Final[dict[str, dict[str, frozenset[int]]]] = {
    "bastion-1": {"tcp": frozenset({22, 53, 9100}), "udp": frozenset({53, 123})},
    "fa-web-01": {"tcp": frozenset({22, 80, 443, 9100}), "udp": frozenset()},
    "fa-db-01": {"tcp": frozenset({22, 5432, 9100}), "udp": frozenset()},
    "mb-render-02": {"tcp": frozenset({22, 9000, 9100}), "udp": frozenset()},
    "ac-gpu-01": {"tcp": frozenset({22, 6006, 8888, 9100}), "udp": frozenset()},
}
BY_KIND: Final[dict[str, dict[str, frozenset[int]]]] = {
    "host": {"tcp": frozenset({22, 9100}), "udp": frozenset()},
    "bmc": {"tcp": frozenset({443}), "udp": frozenset({623})},
    "switch": {"tcp": frozenset({22, 443}), "udp": frozenset({161})},
    "pdu": {"tcp": frozenset({80, 443}), "udp": frozenset({161})},
}
SERVICES: Final[dict[tuple[str, int], str]] = {  # nmap-services names (no -sV: method table)
    ("tcp", 22): "ssh",
    ("tcp", 53): "domain",
    ("tcp", 80): "http",
    ("tcp", 443): "https",
    ("tcp", 3306): "mysql",
    ("tcp", 3389): "ms-wbt-server",
    ("tcp", 5432): "postgresql",
    ("tcp", 5900): "vnc",
    ("tcp", 6006): "X11:6",
    ("tcp", 6379): "redis",
    ("tcp", 8080): "http-proxy",
    ("tcp", 8443): "https-alt",
    ("tcp", 8888): "sun-answerbook",
    ("tcp", 9000): "cslistener",
    ("tcp", 9100): "jetdirect",
    ("udp", 53): "domain",
    ("udp", 123): "ntp",
    ("udp", 161): "snmp",
    ("udp", 623): "asf-rmcp",
}


@dataclass(frozen=True)
class Leak:
    vantage: str
    segment: str
    asset: str
    address: str
    protocol: str
    port: int


def scanned_plans(plans: Iterable[Plan], inv: Inventory, matrix: IsolationMatrix) -> list[Plan]:
    """The plans the campus scans: those whose run has a positive control (without one, every
    'blocked' would be inconclusive)."""
    return [p for p in plans if any(q.control for q in expand(p, inv, matrix))]


def planted_leak(plans: list[Plan], inv: Inventory, matrix: IsolationMatrix) -> Leak:
    """``LEAK`` checked against the policies: a denied path that a scanned plan probes."""
    asset = inv.asset(LEAK["asset"])
    if asset is None or asset.segment is None or not asset.addresses:
        raise ConfigError(f"the demo's planted leak needs asset {LEAK['asset']} with an address")
    address = asset.addresses[0]
    leak = Leak(
        LEAK["vantage"], asset.segment, asset.hostname, address, LEAK["protocol"], LEAK["port"]
    )
    probed = {
        (q.address, q.protocol, q.port, q.expected)
        for p in plans
        if p.vantage == leak.vantage
        for q in expand(p, inv, matrix)
    }
    if (leak.address, leak.protocol, leak.port, "deny") not in probed:
        raise ConfigError(
            f"the demo's planted leak ({leak.vantage} -> {leak.asset} {leak.protocol}/"
            f"{leak.port}) must be a denied path a probe plan of {leak.vantage} probes "
            "(policies/isolation.yaml, policies/probes.yaml)"
        )
    return leak


def _ranges(ports: Iterable[int]) -> str:
    """``22,53,80-81``: nmap's port list."""
    runs: list[list[int]] = []
    for p in sorted(set(ports)):
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _ctime(t: float) -> str:
    return time.asctime(time.gmtime(int(t)))


def _ttl(asset: Asset | None) -> int:
    """The TTL of a host's answer one router away (network gear starts at 255, hosts at 64)."""
    return 254 if asset is not None and asset.kind in ("bmc", "switch", "pdu") else 63


def _listening(asset: Asset | None, protocol: str, port: int) -> bool:
    if asset is None:
        return False
    table = LISTENING.get(asset.hostname) or BY_KIND.get(asset.kind, BY_KIND["host"])
    return port in table[protocol]


def _state(asset: Asset | None, protocol: str, port: int, through: bool, gateway: str) -> str:
    """The ``<state>`` element of one port."""
    if not through:  # the firewall rejects it
        return (
            '<state state="filtered" reason="admin-prohibited" reason_ttl="255" '
            f'reason_ip="{gateway}"/>'
        )
    ttl = _ttl(asset)
    if _listening(asset, protocol, port):
        reason = "syn-ack" if protocol == "tcp" else "udp-response"
        return f'<state state="open" reason="{reason}" reason_ttl="{ttl}"/>'
    reason = "reset" if protocol == "tcp" else "port-unreach"
    return f'<state state="closed" reason="{reason}" reason_ttl="{ttl}"/>'


def nmap_xml(
    rng: random.Random,
    name: str,
    start: float,
    inv: Inventory,
    matrix: IsolationMatrix,
    vantage: str,
    probes: tuple[Probe, ...],
    leaks: set[tuple[str, str, int]],
) -> tuple[bytes, int]:
    """One scan run as nmap writes it with ``-oX``: every address of ``probes`` on the union of
    their ports (one port list for all targets, as nmap scans them). Returns the XML and the
    number of probed (address, protocol, port)."""
    addresses = sorted({p.address for p in probes}, key=ipaddress.ip_address)
    tcp = sorted({p.port for p in probes if p.protocol == "tcp" and p.port is not None})
    udp = sorted({p.port for p in probes if p.protocol == "udp" and p.port is not None})
    segment = next(s for s in inv.segments if s.id == vantage)
    gateway = str(next(segment.cidr.hosts()))
    segment_of = {p.address: p.segment for p in probes}
    spec = ",".join(
        [*([f"T:{_ranges(tcp)}"] if tcp else []), *([f"U:{_ranges(udp)}"] if udp else [])]
    )
    args = f"nmap -sS -sU -Pn -n --max-retries {RETRIES} -p {spec} -oX {name} {' '.join(addresses)}"
    escaped = args.replace("--", "-&#45;")  # as nmap writes it (no "--" inside the comment)
    t = start
    hosts: list[str] = []
    count = 0
    for addr in addresses:
        asset = inv.asset(addr)
        began = t
        t += rng.uniform(4.0, 11.0)
        ports: list[str] = []
        for protocol, numbers in (("tcp", tcp), ("udp", udp)):
            for port in numbers:
                allowed = matrix.allows(vantage, segment_of[addr], protocol, port)
                through = allowed or (addr, protocol, port) in leaks
                service = SERVICES.get((protocol, port))
                ports.append(
                    f'<port protocol="{protocol}" portid="{port}">'
                    + _state(asset, protocol, port, through, gateway)
                    + (f'<service name="{service}" method="table" conf="3"/>' if service else "")
                    + "</port>"
                )
                count += 1
        srtt = rng.randint(180, 900)
        hosts.append(
            f'<host starttime="{int(began)}" endtime="{int(t)}">'
            '<status state="up" reason="user-set" reason_ttl="0"/>\n'
            f'<address addr="{addr}" addrtype="ipv4"/>\n'
            "<hostnames>\n</hostnames>\n"
            "<ports>" + "\n".join(ports) + "\n</ports>\n"
            f'<times srtt="{srtt}" rttvar="{rng.randint(60, 400)}" to="100000"/>\n'
            "</host>"
        )
    elapsed = t - start + rng.uniform(0.5, 2.0)
    done = start + elapsed
    n = len(addresses)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE nmaprun>\n"
        '<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>\n'
        f"<!-- Nmap {NMAP_VERSION} scan initiated {_ctime(start)} as: {escaped} -->\n"
        f'<nmaprun scanner="nmap" args="{escaped}" start="{int(start)}" '
        f'startstr="{_ctime(start)}" version="{NMAP_VERSION}" xmloutputversion="1.05">\n'
        + (
            f'<scaninfo type="syn" protocol="tcp" numservices="{len(tcp)}" '
            f'services="{_ranges(tcp)}"/>\n'
            if tcp
            else ""
        )
        + (
            f'<scaninfo type="udp" protocol="udp" numservices="{len(udp)}" '
            f'services="{_ranges(udp)}"/>\n'
            if udp
            else ""
        )
        + '<verbose level="0"/>\n<debugging level="0"/>\n'
        + "\n".join(hosts)
        + "\n"
        f'<runstats><finished time="{int(done)}" timestr="{_ctime(done)}" '
        f'summary="Nmap done at {_ctime(done)}; {n} IP addresses ({n} hosts up) scanned in '
        f'{elapsed:.2f} seconds" elapsed="{elapsed:.2f}" exit="success"/>'
        f'<hosts up="{n}" down="0" total="{n}"/>\n'
        "</runstats>\n"
        "</nmaprun>\n"
    )
    return text.encode("utf-8"), count


def write_scans(
    root: Path,
    seed: int,
    t0: float,
    inv: Inventory,
    matrix: IsolationMatrix,
    plans: list[Plan],
    leak: Leak | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every scan file with its manifest entry, and the planted leaks (with the scan that
    finds them: the latest of the leak's vantage)."""
    files: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for k, day in enumerate(SCAN_DAYS):
        latest = k == len(SCAN_DAYS) - 1
        for i, plan in enumerate(plans):
            probes = expand(plan, inv, matrix)
            start = t0 + day * DAY + SCAN_HOUR + i * 1500 + (seed % 7) * 60
            stamp = time.strftime("%Y-%m-%d", time.gmtime(int(start)))
            rel = f"nmap/{plan.vantage}-{stamp}.xml"
            leaks: set[tuple[str, str, int]] = set()
            if leak is not None and latest and plan.vantage == leak.vantage:
                leaks.add((leak.address, leak.protocol, leak.port))
                found.append(
                    {
                        "vantage": leak.vantage,
                        "segment": leak.segment,
                        "asset": leak.asset,
                        "address": leak.address,
                        "protocol": leak.protocol,
                        "port": leak.port,
                        "scan": rel,
                        "started": iso(start),
                    }
                )
            rng = random.Random(f"{seed}:nmap:{plan.name}:{k}")
            data, count = nmap_xml(
                rng, Path(rel).name, start, inv, matrix, plan.vantage, probes, leaks
            )
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files.append(
                entry(
                    rel,
                    "nmap",
                    1,
                    1 + count,  # the probe.run and one probe.result per address and port
                    vantage=plan.vantage,
                    options={"plan": plan.name},
                    note="one nmap run: a probe.run and a probe.result per scanned port",
                )
            )
    return files, found


def write_missed(
    root: Path, t0: float, inv: Inventory, plans: dict[str, Plan]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The planted missed run as ``edgeaudit probe schedule`` records it, in a JSON-lines file
    for ``edgeaudit append``: its ``appends`` manifest entry and its summary."""
    plan = plans.get(MISSED["plan"])
    if plan is None or not plan.cron:
        raise ConfigError(
            f"the demo's planted missed run needs plan {MISSED['plan']} with a cron expression "
            "(policies/probes.yaml)"
        )
    after = datetime.fromtimestamp(t0, UTC) + timedelta(days=MISSED["after_days"])
    dues = due_times(plan.cron, after, after + timedelta(days=31))
    if not dues:
        raise ConfigError(f"plan {plan.name}: the demo needs a run due at least once a month")
    due = dues[0]
    detected = due + timedelta(seconds=MISSED["down_for"])
    event = missed_event(plan.name, plan.vantage, rfc3339(due), rfc3339(detected), inv)
    path = root / MISSED_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(event.to_record(), option=orjson.OPT_SORT_KEYS) + b"\n")
    summary = {
        "plan": plan.name,
        "vantage": plan.vantage,
        "due": rfc3339(due),
        "detected": rfc3339(detected),
        "path": MISSED_PATH,
    }
    append = {
        "path": MISSED_PATH,
        "kind": "probe.missed",
        "records": 1,
        "events": 1,
        "note": "edgeaudit append: the scheduler's record of a run it missed",
    }
    return append, summary
