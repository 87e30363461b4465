"""Start a verification helper process: ``python -P -m MODULE`` of this package, with its
request written (marshal) to its stdin; the caller reads the answer from its stdout.

Shared by the store's verification helper (:mod:`edgeaudit.verify.split`) and the pack's
(:mod:`edgeaudit.verify.pack_helper`). ``subprocess`` is imported only when a helper starts.
"""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess


def spawn(module: str, request: Any) -> subprocess.Popen[bytes] | None:
    """The started helper, its request sent; None when it could not start or take it (the
    caller then does the work itself)."""
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
        proc.stdin.write(marshal.dumps(request))
        proc.stdin.close()
    except OSError:  # it is gone already (its stdin closed): collect it
        if proc.stdout is not None:
            proc.stdout.close()
        proc.wait()
        return None
    return proc
