"""Parse in a second process while this one appends (two cores, one file).

The runner's work splits in two nearly equal halves: reading, parsing and preparing entries
(normalize, canonicalize, hash), and appending them to the store. For a large file the runner
forks a worker that does the first half exactly as the in-process runner does (the same
:func:`edgeaudit.collect.runner._run`, the same batches, quarantine and resume offsets) and
sends each batch through a pipe; this process appends each batch with its quarantined records
and its resume point in one transaction, as before, in the order they were made. The pipe holds
at most about one batch, so memory stays bounded and the worker waits when the store is slower.

Failures are not lost: an exception in the worker is sent back and raised here (an
:class:`~edgeaudit.errors.EdgeauditError` as itself, anything else as a :class:`CollectError`
naming the file); a worker that dies without a word is reported with its exit code; an error
while appending stops the worker. What was committed before a failure stays committed with its
resume point, so a rerun resumes exactly.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

from edgeaudit.collect import runner
from edgeaudit.collect.interface import ParseContext, Parser
from edgeaudit.errors import EdgeauditError
from edgeaudit.events import PreparedEntry
from edgeaudit.store import EvidenceLog, QuarantineRecord, ResumePoint

_FORK: Final = multiprocessing.get_context("fork")
MIN_BYTES: Final = 8 << 20
"""Input (from the resume point on) below which a file is always parsed in-process."""
WORKERS_ENV: Final = "EDGEAUDIT_COLLECT_WORKERS"  # "1": never a parse worker; "2": always
_BATCH: Final = "batch"
_DONE: Final = "done"
_ERROR: Final = "error"


def worth_a_worker(remaining: int) -> bool:
    """Parse ``remaining`` bytes of a file in a worker process (:func:`run_pipelined`)?

    Only from ``MIN_BYTES`` on, on two CPUs or more, and while one of them is idle (the load
    average at most the CPUs less one). Measured side by side, not guessed
    (``bench/bench_collect_vs_append.py``, docs/benchmarks.md): on a quiet 2-CPU machine the
    worker makes a collection 10-20 % faster; on the same machine at load 2-13, worker on and
    off alternating, it was faster in 6 of 13 rounds, its medians from 9 % slower to 16 %
    faster, and it took 11-18 % more CPU in all (the batches sent between the processes), CPU
    the other work on the machine then goes without. ``EDGEAUDIT_COLLECT_WORKERS=1``: never;
    ``=2``: whatever the load and the CPUs.
    """
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if setting == "1" or remaining < MIN_BYTES:
        return False
    if setting == "2":
        return True
    cpus = os.cpu_count() or 1
    return cpus >= 2 and os.getloadavg()[0] <= cpus - 1


class CollectError(EdgeauditError):
    """The parse worker failed in a way that is not an input error of its own."""


def run_pipelined(
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    parser: Parser,
    feeder: runner._Feeder,
    ctx: ParseContext,
    summary: runner.CollectSummary,
    batch_size: int,
    point: tuple[str, str, Path] | None,
    progress: runner.Progress | None,
) -> None:
    """Collect what ``feeder`` reads: parse in a forked worker, append here."""
    reader, writer = _FORK.Pipe(duplex=False)
    worker = _FORK.Process(
        target=_work,
        args=(reader, writer, log_, parser_factory, parser, feeder, ctx, batch_size, point),
        name=f"edgeaudit parse {feeder.name}",
        daemon=True,
    )
    worker.start()
    writer.close()  # only the worker writes: its exit then ends our reads with EOFError
    append = runner.store_sink(log_, summary)
    try:
        while True:
            try:
                message = reader.recv()
            except EOFError:
                worker.join(10)
                raise CollectError(
                    f"{feeder.name}: the parser process ended without finishing "
                    f"(exit code {worker.exitcode}); what was committed stays, rerun to resume"
                ) from None
            tag = message[0]
            if tag == _BATCH:
                _, rows, quarantine, resume, read_to = message
                append([PreparedEntry._make(r) for r in rows], quarantine, resume, read_to)
                if progress is not None and point is not None:
                    path = point[2]
                    progress(path.name, read_to, max(runner._size(path), read_to))
            elif tag == _DONE:
                summary.add(message[1])  # what the worker counted: read, events, skips, ...
                return
            else:
                raise message[1]
    finally:
        reader.close()  # a worker still sending now gets a broken pipe and exits
        worker.join(10)
        if worker.is_alive():  # pragma: no cover - only if it hangs
            worker.kill()
            worker.join()


def _work(
    reader: Connection,
    writer: Connection,
    log_: EvidenceLog,
    parser_factory: Callable[[], Parser],
    parser: Parser,
    feeder: runner._Feeder,
    ctx: ParseContext,
    batch_size: int,
    point: tuple[str, str, Path] | None,
) -> None:
    """The worker: the in-process runner with a sink that sends batches instead of storing."""
    reader.close()
    counts = runner.CollectSummary()

    def send(
        entries: list[PreparedEntry],
        quarantine: list[QuarantineRecord],
        resume: ResumePoint | None,
        read_to: int,
    ) -> None:
        # plain tuples pickle several times faster than named tuples
        writer.send((_BATCH, [tuple(e) for e in entries], quarantine, resume, read_to))

    try:
        runner._run(
            log_, parser_factory, parser, feeder.lines(), feeder, ctx, counts, batch_size, point,
            None, sink=send,
        )  # fmt: skip
        writer.send((_DONE, counts))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the collecting process stopped reading (its own error): nothing to report
    except BaseException as exc:  # every failure goes back to the collecting process
        writer.send((_ERROR, _portable(exc, feeder.name)))
    finally:
        writer.close()


def _portable(exc: BaseException, name: str) -> Exception:
    """``exc`` as an exception that survives pickling with its message."""
    if isinstance(exc, EdgeauditError):
        try:
            rebuilt: Any = type(exc)(*exc.args)
            if str(rebuilt) == str(exc):
                return rebuilt  # type: ignore[no-any-return]
        except Exception:  # noqa: S110 - a class with another constructor: fall through
            pass
    where = "".join(traceback.format_exception_only(exc)).strip()
    return CollectError(f"{name}: the parser process failed: {where}")
