"""Where ``edgeaudit probe run`` spends its time: the command with marks on stderr (wall ms
since start, CPU ms of the process) at the fork of the engine's child process, the child's
start and end, the store opened, the child's result and the exit.

Run like the command, inside the vantage namespace, e.g.
``ip netns exec NS python bench/_probe_trace.py -w WS --json probe run --plan bench >/dev/null``.
"""

from __future__ import annotations

import os
import sys
import time

T0 = time.perf_counter()


def mark(what: str) -> None:
    wall = (time.perf_counter() - T0) * 1000
    cpu = time.process_time() * 1000
    print(f"[{wall:7.1f} ms] pid {os.getpid()} {what} (cpu {cpu:.0f} ms)", file=sys.stderr)


def main() -> int:
    from edgeaudit.cli import main as cli
    from edgeaudit.probe import background

    mark("cli imported")
    start = background.start

    def traced(work):  # type: ignore[no-untyped-def]
        def child():  # type: ignore[no-untyped-def]
            mark("child: start")
            value = work()
            mark("child: done")
            return value

        mark("fork")
        running = start(child)
        result = running.result

        def waited():  # type: ignore[no-untyped-def]
            mark("store open; waiting for the child")
            value = result()
            mark("child's result read")
            return value

        running.result = waited  # type: ignore[method-assign]
        return running

    background.start = traced  # type: ignore[assignment]
    code = cli.main(sys.argv[1:])
    mark(f"exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
