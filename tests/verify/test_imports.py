"""Verification never loads signing code or private-key handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verify import tamper as t

FORBIDDEN = ("edgeaudit.note.signer", "edgeaudit.workspace.keys")

_SCRIPT = """
import contextlib, io, json, sys
import edgeaudit.verify, edgeaudit.cli.commands
from edgeaudit.cli.main import main
after_import = [m for m in {forbidden!r} if m in sys.modules]
codes = {{}}
for argv in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        codes[" ".join(argv)] = main(["--workspace", {ws!r}, *argv])
after_run = [m for m in {forbidden!r} if m in sys.modules]
print(json.dumps({{"after_import": after_import, "after_run": after_run, "codes": codes}}))
"""

COMMANDS = [
    ["verify"],
    ["verify", "--json"],
    ["proof", "inclusion", "7"],
    ["proof", "consistency", "10", "40"],
    ["checkpoint", "show"],
    ["status"],
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEAUDIT_DB_URL", raising=False)
    monkeypatch.delenv("EDGEAUDIT_WORKSPACE", raising=False)


def test_verify_path_never_imports_signing_code(tmp_path: Path, db_url: str, capsys) -> None:
    ws = t.make_workspace(tmp_path, db_url, capsys)
    script = _SCRIPT.format(forbidden=FORBIDDEN, commands=COMMANDS, ws=str(ws))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == {" ".join(c): 0 for c in COMMANDS}, done.stderr
    assert result["after_import"] == []
    assert result["after_run"] == []


def test_signing_imports_the_signer(tmp_path: Path, capsys) -> None:
    """The check above can fail: signing a checkpoint does load the signer (SQLite suffices)."""
    ws = t.make_workspace(tmp_path, f"sqlite:///{tmp_path}/store.db", capsys)
    script = (
        "import sys\nfrom edgeaudit.cli.main import main\n"
        f"assert main(['--workspace', {str(ws)!r}, 'checkpoint']) == 0\n"
        f"print(all(m in sys.modules for m in {FORBIDDEN!r}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True"
