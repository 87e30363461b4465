"""Start a verification helper process: ``python -P -m MODULE`` of this package, with its
request written (marshal) to its stdin; the caller reads the answer from its stdout.

Shared by the store's verification helper (:mod:`edgeaudit.verify.split`) and the pack's
(:mod:`edgeaudit.verify.pack_helper`). ``subprocess`` is imported only when a helper starts.
With ``more=True`` the request is a frame (:func:`send`, :func:`receive`) and stdin stays open
for later frames: the pack's helper is started before the caller knows all it will ask.
"""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess


def spawn(module: str, request: Any, more: bool = False) -> subprocess.Popen[bytes] | None:
    """The started helper, its request sent; None when it could not start or take it (the
    caller then does the work itself). ``more``: the request framed, stdin left open."""
    import subprocess

    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
    )}  # fmt: skip
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    assert proc.stdin is not None
    try:
        if more:
            send(proc.stdin, request)
        else:
            proc.stdin.write(marshal.dumps(request))
            proc.stdin.close()
    except OSError:  # it is gone already (its stdin closed): collect it
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait()
        return None
    return proc


def send(stream: IO[bytes], message: Any) -> None:
    """One frame: the length of the marshalled message (8 bytes, little-endian), then it."""
    data = marshal.dumps(message)
    stream.write(len(data).to_bytes(8, "little") + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next frame's message; :class:`EOFError` when the stream ends before a whole one."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the stream ended before a frame")
    size = int.from_bytes(head, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended inside a frame")
    return marshal.loads(data)  # noqa: S302 - written by our own parent
