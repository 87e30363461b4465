"""The engine in a child process, so that ``edgeaudit probe run`` can import and open the store
(which the probing does not need) while the engine probes, on another core.

:func:`start` forks a child that runs the given function (in ``probe run``: the policy files
and :func:`edgeaudit.probe.run.prepare_run`, which checks everything that must hold before the
first packet, then the engine and what can be decided without the store) and hands back its
value, or the error it raised, through a pipe, then ends without running any of the parent's
clean-up (``os._exit``); it dies with its parent.
:meth:`Running.result` prints the child's log lines (kept until then, with this process's
handlers) and returns that value or raises that error, with its type and message, as if the
function had run in this process. :meth:`Running.stop` kills a child whose result is no
longer wanted (the store cannot be opened): the probing stops at once and nothing of it is
recorded.

POSIX only (``os.fork``), as the engine is (raw sockets, Linux).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal

from edgeaudit.errors import EdgeauditError

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable


class Running:
    """A function (the engine's run) running in a child process."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._status: int | None = None

    def result(self) -> object:
        """Wait for the child: the function's value, or raise what it raised."""
        try:
            chunks = []
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
        finally:
            self._close()
        data = b"".join(chunks)
        self._reap()
        if not data:  # killed, or ended before it could answer
            raise RuntimeError(
                f"the probe engine process {self.pid} ended without a result "
                f"({_describe(self._status)})"
            )
        kind, value, lines = pickle.loads(data)  # noqa: S301 - written by our own child
        for name, level, message in lines:
            logging.getLogger(name).log(level, "%s", message)
        if kind == "ok":
            return value
        if kind == "error":
            assert isinstance(value, BaseException)
            raise value
        name, module, message, exit_code = value  # an error that does not pickle
        base: type[Exception] = Exception if exit_code is None else EdgeauditError
        cls = type(name, (base,), {"__module__": module})
        if exit_code is not None:
            cls.exit_code = exit_code  # type: ignore[attr-defined]
        raise cls(message)

    def stop(self) -> None:
        """Kill the child if it still runs (its probing stops at once) and collect it."""
        if self._status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()
        self._close()

    def _reap(self) -> None:
        if self._status is None:
            _, self._status = os.waitpid(self.pid, 0)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def start(work: Callable[[], object]) -> Running:
    """Fork a child that runs ``work()``. Whatever must hold before the first packet is
    checked in ``work`` before it sends, or before this is called."""
    read, write = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: probe, answer, and end without the parent's clean-up
        code = 0
        try:
            os.close(read)
            _die_with(parent)
            _answer(write, work)
        except BaseException:  # the pipe is gone: the parent reports an answerless end
            code = 70
        finally:
            os._exit(code)
    os.close(write)
    return Running(pid, read)


class _Keep(logging.Handler):
    """The child's log lines, kept for the parent to print (its stderr may not be ours: a
    test's captured stream is a copy in the child)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.name, record.levelno, record.getMessage()))


def _die_with(parent: int) -> None:
    """Be killed when the parent dies (Linux ``PR_SET_PDEATHSIG``): a command killed while
    its child probes must not leave it probing, unrecorded. A parent already gone: end now."""
    import ctypes  # only in the child

    # not Linux (no prctl): the pipe's broken end stops it once its run is over
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(70)


def _answer(fd: int, work: Callable[[], object]) -> None:
    keep = _Keep()
    logging.root.handlers = [keep]
    try:
        data = pickle.dumps(("ok", work(), keep.lines), pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # handed to the parent, which raises it
        data = _error(exc, keep.lines)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.close(fd)


def _error(exc: BaseException, lines: list[tuple[str, int, str]]) -> bytes:
    """``exc`` pickled, if it comes back as itself; else its type's name, module, message and
    exit code, from which the parent makes an error of that name (same message, same code)."""
    try:
        data = pickle.dumps(("error", exc, lines), pickle.HIGHEST_PROTOCOL)
        back = pickle.loads(data)[1]  # noqa: S301 - what we just wrote
        if type(back) is type(exc) and str(back) == str(exc):
            return data
    except Exception:  # noqa: S110 - falls back to the portable form below
        pass
    code = exc.exit_code if isinstance(exc, EdgeauditError) else None
    described = (type(exc).__name__, type(exc).__module__, str(exc), code)
    return pickle.dumps(("foreign", described, lines), pickle.HIGHEST_PROTOCOL)


def _describe(status: int | None) -> str:
    if status is None:
        return "still running"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
