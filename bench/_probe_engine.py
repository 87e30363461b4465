"""Run the probe engine once (TCP SYN to one target) and print timings and verdicts as JSON.

Started by bench_probe.py inside the vantage namespace:
``python bench/_probe_engine.py TARGET FIRST LAST RATE TRIES``.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time

t0 = time.perf_counter()
from edgeaudit.probe.engine import Engine, Params  # noqa: E402
from edgeaudit.probe.model import Probe  # noqa: E402
from edgeaudit.probe.verdict import decide  # noqa: E402

OPEN = (22, 80, 443)  # bench_probe.py's listeners


def main() -> None:
    target, first, last, rate, tries = sys.argv[1:6]
    probes = [
        # the listening ports are the positive controls (allowed), as in a plan
        Probe(target, "tcp", port, "seg-t", None, None, "allow" if port in OPEN else "deny")
        for port in range(int(first), int(last) + 1)
    ]
    engine = Engine([ipaddress.ip_network("198.18.0.0/15")])
    start = time.perf_counter()
    collected = engine.run(probes, Params(rate=int(rate), tries=int(tries), timeout=1.0))
    results, _ = decide(probes, collected.answers, collected.sent, collected.routed)
    end = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": start - t0,
                "engine_s": end - start,
                "packets": collected.packets,
                "verdicts": {str(r.probe.port): r.verdict for r in results},
            }
        )
    )


if __name__ == "__main__":
    main()
