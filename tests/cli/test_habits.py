"""CLI-wide conventions: one exit-code table, no traceback without -v, --json anywhere (errors
too), output into a closed pipe ends quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgeaudit.cli import commands
from tests.cli import Cli, make_workspace


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


def test_json_before_or_after_the_command(ws: Cli) -> None:
    after = ws("status", "--json")
    before = ws("--json", "status")
    assert after.code == before.code == 0
    assert json.loads(before.out) == json.loads(after.out)


def test_errors_are_json_on_stdout_with_json(ws: Cli) -> None:
    r = ws("--json", "proof", "inclusion", "99")
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["error"]["exit_code"] == 2
    assert doc["error"]["message"]
    assert "error" in r.err
    usage = ws("--json", "status", "--no-such-option")
    assert usage.code == 2
    assert json.loads(usage.out)["error"]["exit_code"] == 2


def test_an_internal_error_is_exit_4_without_a_traceback(
    ws: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(args: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(commands, "cmd_status", boom)
    r = ws("status")
    assert r.code == 4  # never 1, which means "verification failed"
    assert "internal error: RuntimeError: a bug (run with -v for the traceback)" in r.err
    assert "Traceback" not in r.err
    verbose = ws("-v", "status")
    assert verbose.code == 4
    assert "Traceback" in verbose.err


def test_output_into_a_closed_pipe_ends_quietly(ws: Cli) -> None:
    assert ws.root is not None
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeaudit.cli.main", "--workspace", str(ws.root), "status"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like `| head` that has read enough
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    assert b"BrokenPipe" not in err
