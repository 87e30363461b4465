"""The second half of a large pack's ``evidence.jsonl`` checked by a second process, beside the
first.

On a large pack with a CPU to spare, :func:`start` runs this module as a fresh interpreter
(``python -m edgeaudit.verify.pack_helper``: only the pack reading and the batch check to
import) over the lines after the file's split point near its middle
(``edgeaudit.verify.pack_files.tail_chunks``), while the caller checks the lines before it.

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

import dataclasses
import logging
import marshal
import os
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from edgeaudit.verify.child import spawn
from edgeaudit.verify.pack_batch import Rules, full_lines
from edgeaudit.verify.pack_files import PackFileError, PackFiles, tail_chunks

if TYPE_CHECKING:
    import subprocess

log = logging.getLogger(__name__)

MIN_BYTES: Final = 16 << 20
"""Evidence files smaller than this are checked in one process (a second interpreter costs
about 0.1 s; 16 MiB is about 30 000 entries, 0.4 s of checks)."""
WORKERS_ENV: Final = "EDGEAUDIT_VERIFY_WORKERS"  # "1": never a helper; "2": even on one CPU


@dataclass(frozen=True, slots=True)
class Answer:
    """What the helper's part contributes when every line of it passed: the indices
    (ascending) and leaf hashes of its entries, their number, and the cited ones among them."""

    indices: array[int]
    leaves: bytes
    cited: list[tuple[int, str, bytes]]


class Helper:
    """A running helper for the lines after ``split``; :meth:`answer` waits for it."""

    def __init__(self, proc: subprocess.Popen[bytes], split: int) -> None:
        self._proc = proc
        self.split = split

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
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


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


def start(files: PackFiles, name: str, size: int, rules: Rules) -> Helper | None:
    """Start a helper for the second half of ``name`` (``size`` bytes) if that is worth it."""
    if not worth_a_helper(size):
        return None
    split = size // 2
    request = (str(files.path.absolute()), name, split, dataclasses.astuple(rules))
    proc = spawn("edgeaudit.verify.pack_helper", request)
    return None if proc is None else Helper(proc, split)


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
    path, name, split, fields = marshal.loads(stdin.read())  # noqa: S302
    files = PackFiles(Path(path))
    try:
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
