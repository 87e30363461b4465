"""The larger part of a large pack's ``evidence.jsonl`` checked by a second process, beside the
first.

On a large pack with a CPU to spare, :func:`prepare` runs this module as a fresh interpreter
(``python -m edgeaudit.verify.pack_helper``: only the pack reading and the batch check to
import) as soon as the pack is opened, told which lines are its part: those after the file's
split point in the middle (``edgeaudit.verify.pack_files.tail_chunks``).
It starts and imports while the caller checks the manifest, and waits for the rules
(:func:`start`, once the checkpoint and findings are read); then it checks its lines while
the caller checks those before the split point. The cyclic garbage collector is off in the
helper: it only makes and frees parsed entries, which hold no cycles.

The helper is trusted with nothing it could get wrong silently. It answers ``ok`` only if every
line of its part passes :func:`edgeaudit.verify.pack_batch.full_lines` (every rule of a full
entry, indices ascending), and then sends what the caller would have gathered from those lines:
their indices and leaf hashes (for the multi-proof, which the caller checks over every entry),
their number and the cited entries among them. Anything else (a line the batch check does not
accept, an error, no answer) and the caller checks those lines itself, one piece at a time, and
reports exactly what a one-process verification reports; so does an answer whose first index
does not follow the caller's last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import marshal
import os
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from edgeaudit.verify.child import receive, send, spawn
from edgeaudit.verify.pack_batch import Rules, full_lines
from edgeaudit.verify.pack_files import PackFileError, PackFiles, tail_chunks

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

MIN_BYTES: Final = 16 << 20
"""Evidence files smaller than this are checked in one process (a second interpreter costs
about 0.1 s; 16 MiB is about 30 000 entries, 0.4 s of checks)."""
WORKERS_ENV: Final = "EDGEAUDIT_VERIFY_WORKERS"  # "1": never a helper; "2": even on one CPU
CALLER_SHARE: Final = 0.5
"""The caller checks the lines before this fraction of the file, the helper the rest. Both
start on the entries when the rules are sent (the helper has imported by then); the caller's
multi-proof needs every leaf hash, so it cannot overlap the helper's part: halves finish
together (at 0.44 the caller waited for the helper, docs/benchmarks.md)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What the helper's part contributes when every line of it passed: the indices
    (ascending) and leaf hashes of its entries, their number, and the cited ones among them."""

    indices: array[int]
    leaves: bytes
    cited: list[tuple[int, str, bytes]]


class Helper:
    """A running helper for the lines after ``split``: :meth:`begin` sends it the rules,
    :meth:`answer` waits for its answer."""

    def __init__(self, proc: subprocess.Popen[bytes], split: int) -> None:
        self._proc = proc
        self.split = split

    def begin(self, rules: Rules) -> bool:
        """Send the rules (the helper then checks its part); False if it cannot take them
        (it is then stopped and the caller checks every line)."""
        assert self._proc.stdin is not None
        try:
            send(self._proc.stdin, dataclasses.astuple(rules))
            self._proc.stdin.close()
        except OSError:
            self.close()
            return False
        return True

    def answer(self) -> Answer | None:
        """The helper's answer if its part is clean, else None (the caller checks it)."""
        assert self._proc.stdout is not None
        try:
            data = self._proc.stdout.read()
            self._proc.wait()
        except OSError:
            data = b""
        finally:
            self.close()
        try:
            message = marshal.loads(data)  # noqa: S302 - written by our own child
        except (EOFError, ValueError, TypeError):
            message = ("no answer", f"exit code {self._proc.returncode}")
        if self._proc.returncode != 0 or not isinstance(message, tuple) or message[0] != "ok":
            log.debug("verify PACK helper after byte %d: %s; checked here", self.split, message)
            return None
        indices: array[int] = array("q")
        indices.frombytes(message[1])
        return Answer(indices, message[2], message[3])

    def close(self) -> None:
        """Stop the helper if it still runs (it only reads) and wait for it."""
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(OSError):  # a frame undelivered: it is stopped below
                    stream.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


_prepared: dict[tuple[int, str], Helper] = {}  # (id of the PackFiles, member) -> its helper


def worth_a_helper(size: int) -> bool:
    """A helper for an evidence file of ``size`` bytes? From ``MIN_BYTES`` on, on two CPUs or
    more, while one of them is idle (the load average at most the CPUs less one), and not in a
    multiprocessing worker: the rule of the store's verification helper and the collector's
    parse worker. ``EDGEAUDIT_VERIFY_WORKERS=1``: never; ``=2``: whatever the load and CPUs."""
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if setting == "1" or size < MIN_BYTES or not sys.executable:
        return False
    if setting == "2":
        return True
    cpus = os.cpu_count() or 1
    mp = sys.modules.get("multiprocessing")
    in_a_worker = mp is not None and mp.parent_process() is not None
    return cpus >= 2 and os.getloadavg()[0] <= cpus - 1 and not in_a_worker


def prepare(files: PackFiles, name: str) -> None:
    """Start a helper for the member ``name`` of the open pack ``files`` now, if one is worth
    it (:func:`worth_a_helper`): it imports while the caller reads the manifest and waits for
    :func:`start`. The caller must :func:`discard` ``files`` when done with it."""
    if not files.has(name):
        return
    size = files.size(name)
    if not worth_a_helper(size):
        return
    split = int(size * CALLER_SHARE)
    proc = spawn("edgeaudit.verify.pack_helper", (str(files.path.absolute()), name, split), True)
    if proc is not None:
        _prepared[(id(files), name)] = Helper(proc, split)


def discard(files: PackFiles) -> None:
    """Stop the helpers :func:`prepare` started for ``files`` that :func:`start` did not take
    (verification ended before the entries, e.g. at a manifest that does not verify)."""
    for key in [key for key in _prepared if key[0] == id(files)]:
        _prepared.pop(key).close()


def start(files: PackFiles, name: str, size: int, rules: Rules) -> Helper | None:
    """The helper for the part of ``name`` (``size`` bytes) after its split point, checking it
    by ``rules``: the one :func:`prepare` started, or one started now if that is worth it."""
    helper = _prepared.pop((id(files), name), None)
    if helper is None and worth_a_helper(size):
        split = int(size * CALLER_SHARE)
        request = (str(files.path.absolute()), name, split)
        proc = spawn("edgeaudit.verify.pack_helper", request, True)
        helper = None if proc is None else Helper(proc, split)
    if helper is None or not helper.begin(rules):
        return None
    return helper


def check_tail(files: PackFiles, name: str, split: int, rules: Rules) -> tuple[Any, ...]:
    """The helper's work: ``("ok", indices, leaf hashes, cited)`` or ``("unclean", why)``."""
    indices: array[int] = array("q")
    leaves = bytearray()
    cited: list[tuple[int, str, bytes]] = []
    last = -1
    for piece in tail_chunks(files, name, split):
        batch = full_lines(piece, last, rules)
        if batch is None:
            return ("unclean", f"a line after entry {last} is not a full entry that passes")
        indices.extend(batch.indices)
        leaves += batch.leaves
        cited.extend(batch.cited)
        last = batch.indices[-1]
    return ("ok", indices.tobytes(), bytes(leaves), cited)


def _main(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    gc.disable()  # it makes and frees parsed entries only: no cycles to collect
    path, name, split = receive(stdin)
    files = PackFiles(Path(path))
    try:
        try:
            fields = receive(stdin)
        except EOFError:  # the caller stopped before the entries: nothing to answer
            return 0
        answer = check_tail(files, name, split, Rules(*fields))
    except (PackFileError, OSError) as exc:
        answer = ("unclean", f"{type(exc).__name__}: {exc}")
    finally:
        files.close()
    stdout.write(marshal.dumps(answer))
    stdout.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a child process
    sys.exit(_main(sys.stdin.buffer, sys.stdout.buffer))
