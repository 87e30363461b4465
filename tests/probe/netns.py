"""Real topologies for the probe tests: network namespaces, veth pairs, one bridge per segment
in a router namespace that forwards between segments under an nftables policy.

Every name starts with a per-topology prefix; :meth:`Topology.destroy` kills the processes it
started and deletes exactly the namespaces it created (veths and bridges go with them).
Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32 (RFC 3849
documentation) and exist only inside these namespaces.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
LISTENER = Path(__file__).with_name("listener.py")


def require_netns() -> None:
    """Skip (fail under CI=true) unless this process can build namespaces with nftables."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            missing.append(f"`{tool}` (Debian: {'iproute2' if tool == 'ip' else 'nftables'})")
    if missing:
        message = "network-namespace probe tests need " + ", ".join(missing)
        if IN_CI:
            pytest.fail(f"{message} (CI=true: these tests must run)", pytrace=False)
        pytest.skip(f"{message}; run scripts/test as root to install and run them")


def run(*argv: str, input: str | None = None, check: bool = True) -> str:
    done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60)
    if check and done.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class Topology:
    prefix: str = field(default_factory=lambda: f"ea{os.getpid() % 9999}{secrets.token_hex(2)}")
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    segments: dict[str, str] = field(default_factory=dict)  # segment -> router address

    @property
    def router(self) -> str:
        return f"{self.prefix}r"

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def _add_ns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")
        # no duplicate address detection: IPv6 addresses usable at once (nothing else is here)
        for conf in ("all", "default"):
            run("ip", "netns", "exec", name, "sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0")
        # no ICMP rate limit per destination (1 s after a burst of 6 by default): a probe run
        # sends many port-unreachable and admin-prohibited answers to one vantage within a
        # second, and whether the kernel drops one would depend on timing. A rate-limited real
        # host makes a closed UDP port silent, which the engine reports as inconclusive.
        for key in ("net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"):
            run("ip", "netns", "exec", name, "sysctl", "-qw", key)

    def create_router(self) -> None:
        self._add_ns(self.router)
        run("ip", "netns", "exec", self.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def segment(self, name: str, router_cidr: str) -> None:
        """A segment: a bridge in the router namespace with the router's address on it."""
        br = f"br{name}"
        # a fixed MAC: a bridge otherwise takes its lowest port's, so plugging a veth in or out
        # would change the router's MAC under the hosts' ARP caches (a few seconds of loss)
        mac = f"02:ea:00:00:00:{len(self.segments) + 1:02x}"
        run("ip", "-n", self.router, "link", "add", br, "address", mac, "type", "bridge")
        run("ip", "-n", self.router, "addr", "add", router_cidr, "dev", br)
        run("ip", "-n", self.router, "link", "set", br, "up")
        self.segments[name] = router_cidr.split("/")[0]

    def host(self, name: str, segment: str, cidr: str) -> None:
        """A host namespace with ``eth0`` on ``segment``'s bridge and a default route."""
        ns = self.ns(name)
        self._add_ns(ns)
        self.plug(name, segment, "eth0", cidr)
        run("ip", "-n", ns, "route", "add", "default", "via", self.segments[segment])

    def plug(self, host: str, segment: str, ifname: str, cidr: str | None) -> None:
        """Another veth from ``host`` into ``segment``'s bridge (an L2 leak when misused)."""
        ns, peer = self.ns(host), f"v{host}{ifname}"[:15]
        run(
            "ip",
            "-n",
            self.router,
            "link",
            "add",
            peer,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            ns,
        )
        run("ip", "-n", self.router, "link", "set", peer, "master", f"br{segment}", "up")
        if cidr:
            run("ip", "-n", ns, "addr", "add", cidr, "dev", ifname)
        run("ip", "-n", ns, "link", "set", ifname, "up")

    def add6(self, segment: str, router_cidr: str, hosts: dict[str, str]) -> None:
        """Dual stack: an IPv6 prefix on ``segment``'s bridge, an address and a default route
        on each of its ``hosts`` (host -> address/prefix)."""
        run("ip", "netns", "exec", self.router, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
        run("ip", "-n", self.router, "addr", "add", router_cidr, "dev", f"br{segment}", "nodad")
        gateway = router_cidr.split("/")[0]
        for host, cidr in hosts.items():
            ns = self.ns(host)
            run("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0", "nodad")
            run("ip", "-n", ns, "-6", "route", "add", "default", "via", gateway)

    def unplug(self, host: str, ifname: str) -> None:
        run("ip", "-n", self.ns(host), "link", "del", ifname)

    def nft(self, ruleset: str) -> None:
        run("ip", "netns", "exec", self.router, "nft", "-f", "-", input=ruleset)

    def listen(self, host: str, tcp: list[int], udp: list[int | str]) -> None:
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.ns(host),
                sys.executable,
                str(LISTENER),
                "--tcp",
                ",".join(map(str, tcp)),
                "--udp",
                ",".join(map(str, udp)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"listener in {host} did not start: {line!r}")

    def exec(self, host: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def destroy(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=10)
        for name in reversed(self.namespaces):
            run("ip", "netns", "del", name, check=False)
        self.namespaces.clear()
