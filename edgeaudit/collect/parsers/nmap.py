"""nmap XML (``-oX``) scans as segmentation probe evidence.

``edgeaudit collect nmap SCAN.xml --vantage SEGMENT [--option isolation=FILE]``: each port of
each scanned host becomes a ``probe.result`` with the same verdicts as the probe engine's
(:mod:`edgeaudit.probe.verdict`, fed with nmap's reasons: ``syn-ack`` and ``reset`` with their
TTL, ICMP reasons such as ``admin-prohibited`` with ``reason_ip``, ``udp-response``,
``no-response``), plus one ``probe.run`` with ``engine`` ``nmap/<version>``. Ports nmap
collapsed into ``extraports`` are expanded from ``extrareasons@ports`` (nmap >= 7.80), or, for
older files with a single collapsed group per protocol, from the scanned ports in
``scaninfo@services`` minus the listed ones.

Framing ``file``. The run id derives from the file's bytes, so importing it again adds nothing.
The isolation matrix (expected allow/deny) is ``--option isolation=FILE``, else
``policies/isolation.yaml`` in the current directory. Quarantined (the whole file): not nmap
XML, no vantage, no matrix, collapsed ports that cannot be expanded. Hosts outside the
inventory's segments are quarantined one by one (they are outside the audited scope).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Literal
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from edgeaudit.collect.interface import Output, ParseContext, RawRecord
from edgeaudit.collect.model import Quarantined
from edgeaudit.errors import InputError
from edgeaudit.policy.isolation import IsolationMatrix, load_isolation
from edgeaudit.probe.engine import Answer, Key
from edgeaudit.probe.model import Probe
from edgeaudit.probe.plan import segment_of
from edgeaudit.probe.records import RunInfo, run_events
from edgeaudit.probe.verdict import decide

ICMP_REASONS: Final = {
    "net-unreach": (3, 0),
    "host-unreach": (3, 1),
    "proto-unreach": (3, 2),
    "port-unreach": (3, 3),
    "net-prohibited": (3, 9),
    "host-prohibited": (3, 10),
    "admin-prohibited": (3, 13),
    "time-exceeded": (11, 0),
}


class _Bad(Exception):
    """The file cannot be imported; the message is the quarantine reason."""


def expand_ports(spec: str) -> list[int]:
    """``22-23,80,1000-1199`` -> every port."""
    out: list[int] = []
    for part in spec.split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise _Bad(f"bad port list {spec!r}") from None
        if not 0 <= a <= b <= 65535:
            raise _Bad(f"bad port range {part!r}")
        out.extend(range(a, b + 1))
    return out


def _time(epoch: str | None) -> str:
    if not epoch or not epoch.isdigit():
        raise _Bad("no scan start/finish time (nmaprun@start, runstats/finished@time)")
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _answers(addr: str, protocol: str, reason: str, ttl: int | None, reporter: str) -> list[Answer]:
    if reason == "syn-ack":
        return [Answer("syn-ack", addr, ttl)]
    if reason == "reset":
        return [Answer("rst", addr, ttl)]
    if reason == "udp-response":
        return [Answer("udp", addr, ttl)]
    if reason in ICMP_REASONS:
        t, c = ICMP_REASONS[reason]
        return [Answer("icmp", reporter, ttl, t, c)]
    return []  # no-response, and reasons that carry no answer


class NmapXmlParser:
    name: ClassVar[str] = "nmap"
    version: ClassVar[str] = "1"
    framing: ClassVar[Literal["lines", "file"]] = "file"
    stateful: ClassVar[bool] = False
    options: ClassVar[dict[str, str]] = {
        "vantage": "the segment the scan ran from (also --vantage SEGMENT)",
        "isolation": "the isolation matrix file (default policies/isolation.yaml)",
        "plan": "the probe plan name recorded with the run (default nmap-import)",
        "trigger": "what started the scan: manual (default), schedule or change:REF",
    }

    def parse(self, records: Iterable[RawRecord], ctx: ParseContext) -> Iterator[Output]:
        for record in records:
            try:
                yield from self._file(record, ctx)
            except _Bad as exc:
                yield Quarantined(self.name, ctx.source, record.location, str(exc), record.data)
            except ValueError as exc:  # a number attribute that is not a number
                reason = f"malformed nmap XML: {exc}"
                yield Quarantined(self.name, ctx.source, record.location, reason, record.data)

    def _matrix(self, ctx: ParseContext) -> IsolationMatrix:
        path = Path(ctx.options.get("isolation", "policies/isolation.yaml"))
        if not path.is_file():
            raise _Bad(f"needs the isolation matrix: {path} not found (--option isolation=FILE)")
        try:
            return load_isolation(path, ctx.inventory)
        except InputError as exc:
            raise _Bad(f"isolation matrix: {exc}") from None

    def _file(self, record: RawRecord, ctx: ParseContext) -> Iterator[Output]:
        vantage = ctx.options.get("vantage")
        if not vantage:
            raise _Bad("needs the segment the scan ran from: --vantage SEGMENT")
        if vantage not in {s.id for s in ctx.inventory.segments}:
            raise _Bad(f"--vantage {vantage!r} is not a segment of the inventory")
        matrix = self._matrix(ctx)
        try:
            root = ElementTree.fromstring(record.data)
        except (ElementTree.ParseError, DefusedXmlException, LookupError) as exc:
            raise _Bad(f"not valid XML: {exc}") from None
        if root.tag != "nmaprun":
            raise _Bad(f"not an nmap XML report (root element <{root.tag}>)")
        scanned = {
            si.get("protocol", ""): expand_ports(si.get("services", ""))
            for si in root.findall("scaninfo")
        }
        probes: list[Probe] = []
        answers: dict[Key, list[Answer]] = {}
        routed: dict[str, bool] = {}
        for host in root.findall("host"):
            addr_el = host.find("address[@addrtype='ipv4']")
            if addr_el is None:
                continue
            addr = addr_el.get("addr", "")
            segment = segment_of(addr, ctx.inventory)
            if segment is None:
                yield Quarantined(
                    self.name,
                    ctx.source,
                    f"{record.location}#{addr}",
                    f"{addr} is outside every segment of the inventory",
                    b"",
                )
                continue
            distance = host.find("distance")
            routed[addr] = distance is not None and int(distance.get("value", "1")) > 1
            asset = ctx.inventory.asset(addr)
            for protocol, port, got in self._ports(host, addr, scanned):
                expected = matrix.allows(vantage, segment, protocol, port)
                probes.append(
                    Probe(
                        addr,
                        protocol,
                        port,
                        segment,
                        asset.hostname if asset else None,
                        asset.owner if asset else None,
                        "allow" if expected else "deny",
                    )
                )
                if got:
                    answers[(addr, protocol, port)] = got
        if not probes:
            raise _Bad("no scanned port of any host in the inventory's segments")
        yield from self._events(root, record, ctx, vantage, matrix, probes, answers, routed)

    def _ports(
        self, host: Element, addr: str, scanned: dict[str, list[int]]
    ) -> Iterator[tuple[str, int, list[Answer]]]:
        ports = host.find("ports")
        if ports is None:
            return
        listed: dict[str, set[int]] = {}
        for p in ports.findall("port"):
            protocol, state = p.get("protocol", ""), p.find("state")
            if protocol not in ("tcp", "udp") or state is None:
                continue
            port = int(p.get("portid", "0"))
            listed.setdefault(protocol, set()).add(port)
            ttl = int(state.get("reason_ttl", "0")) or None
            yield (
                protocol,
                port,
                _answers(
                    addr, protocol, state.get("reason", ""), ttl, state.get("reason_ip", addr)
                ),
            )
        groups = ports.findall("extraports")
        for extra in groups:
            for why in extra.findall("extrareasons"):
                protocol = why.get("proto") or next(iter(scanned), "tcp")
                if why.get("ports") is not None:
                    numbers = expand_ports(why.get("ports", ""))
                elif len(groups) == 1 and len(extra.findall("extrareasons")) == 1:
                    numbers = sorted(set(scanned.get(protocol, [])) - listed.get(protocol, set()))
                else:
                    raise _Bad(
                        f"{addr}: collapsed ports without a port list cannot be expanded "
                        "(rerun nmap >= 7.80, or with -d to list every port)"
                    )
                if len(numbers) != int(why.get("count", len(numbers))):
                    raise _Bad(f"{addr}: extrareasons count does not match its ports")
                reason = why.get("reason", "")
                # collapsed ports carry no reason_ip: only port-unreach is the host's own
                reporter = addr if reason == "port-unreach" else "an unnamed router"
                for port in numbers:
                    yield protocol, port, _answers(addr, protocol, reason, None, reporter)

    def _events(
        self,
        root: Element,
        record: RawRecord,
        ctx: ParseContext,
        vantage: str,
        matrix: IsolationMatrix,
        probes: list[Probe],
        answers: dict[Key, list[Answer]],
        routed: dict[str, bool],
    ) -> Iterator[Output]:
        args = root.get("args", "")
        words = args.split()
        retries = 10  # nmap's default --max-retries
        if "--max-retries" in words and words.index("--max-retries") + 1 < len(words):
            retries = int(words[words.index("--max-retries") + 1])
        tries = retries + 1
        sent = {(p.address, p.protocol, p.port): tries for p in probes}
        order = sorted(probes, key=lambda p: (p.segment, p.address, p.protocol, p.port or 0))
        results, controls_ok = decide(order, answers, sent, routed)
        finished = root.find("runstats/finished")
        params: dict[str, Any] = {
            "args": args,
            "scan": sorted(
                f"{s.get('type')}/{s.get('protocol')}" for s in root.findall("scaninfo")
            ),
            "tries": tries,
            "probes": len(probes),
        }
        digest = hashlib.sha256(record.data).hexdigest()
        info = RunInfo(
            run=str(uuid.uuid5(uuid.NAMESPACE_URL, f"edgeaudit:nmap:{digest}")),
            plan=ctx.options.get("plan", "nmap-import"),
            vantage=vantage,
            matrix_version=matrix.version,
            engine=f"nmap/{root.get('version', 'unknown')}",
            params=params,
            started=_time(root.get("start")),
            finished=_time(finished.get("time") if finished is not None else None),
            trigger=ctx.options.get("trigger", "manual"),
            source_kind="nmap",
        )
        yield from run_events(info, results, controls_ok, ctx.inventory)
