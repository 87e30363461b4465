"""End to end: the real ``edgeaudit`` executable and ``python -m``, exit codes and streams."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeaudit.canonical import leaf_hash
from edgeaudit.merkle.verify import verify_inclusion
from edgeaudit.note.signer import generate
from edgeaudit.note.verifier import Verifier, verify_checkpoint
from tests.cli import DATA, GOOD

ENTRY_POINT = Path(sys.executable).parent / "edgeaudit"


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    env["EDGEAUDIT_WORKSPACE"] = str(root)
    return {**env, **extra}


def _run(
    env: dict[str, str], *args: str, stdin: bytes | None = None, module: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "edgeaudit.cli.main"] if module else [str(ENTRY_POINT)]
    return subprocess.run(
        [*cmd, *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason="edgeaudit entry point not installed")
def test_end_to_end(tmp_path: Path) -> None:
    root = tmp_path / "blr-pod-1"
    env = _env(root)
    r = _run(env, "init", module=False)
    assert r.returncode == 0, r.stderr
    assert "initialized workspace" in r.stdout

    r = _run(env, "append", "--json", "-", stdin=GOOD.read_bytes())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["appended"] == 6
    assert r.stderr == ""

    bad = DATA / "bad_time_not_utc.jsonl"
    r = _run(env, "append", str(bad), module=False)
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{bad}:2:" in r.stderr
    assert r.stderr.startswith("edgeaudit: error: ")

    r = _run(env, "checkpoint")
    assert r.returncode == 0, r.stderr
    note = r.stdout.rstrip("\n") + "\n"  # text mode prints the note without its last newline
    vkey = _run(env, "key", "show").stdout.strip()
    verifier = Verifier.parse(vkey)
    cp = verify_checkpoint(note.encode(), [verifier], origin="edgeaudit.local/blr-pod-1")
    assert cp.size == 6

    r = _run(env, "proof", "inclusion", "2", "--json", module=False)
    assert r.returncode == 0, r.stderr
    proof = json.loads(r.stdout)
    entry = base64.b64decode(proof["entry"])
    verify_inclusion(leaf_hash(entry), 2, 6, [bytes.fromhex(h) for h in proof["proof"]], cp.root)

    r = _run(env, "verify")
    assert r.returncode == 0
    assert r.stdout.startswith("OK: 6 entries")

    r = _run(env, "verify", "--key", generate("edgeaudit.local/blr-pod-1").verifier_key)
    assert r.returncode == 1
    assert r.stdout.startswith("FAILED")


def test_usage_error_and_version(tmp_path: Path) -> None:
    env = _env(tmp_path)
    r = _run(env, "frobnicate")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr
    r = _run(env, "status")  # not a workspace
    assert r.returncode == 2
    assert "not an edgeaudit workspace" in r.stderr
    r = _run(env, "--version")
    assert r.returncode == 0
    assert r.stdout.startswith("edgeaudit ")


def test_verbose_errors_never_show_the_passphrase_or_key(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    secret = "tr0ub4dor&3-passphrase"
    env = _env(root, EA_TEST_PASS=secret)
    r = _run(env, "init", "--passphrase-env", "EA_TEST_PASS")
    assert r.returncode == 0, r.stderr
    pem = (root / "keys" / "log.key").read_text()
    assert "ENCRYPTED" in pem
    outputs = [r.stdout, r.stderr]
    wrong = "wrong-" + secret
    r = _run({**env, "EA_TEST_PASS": wrong}, "-v", "checkpoint")
    assert r.returncode == 2
    assert "wrong passphrase" in r.stderr
    assert "Traceback" in r.stderr  # -v shows the traceback...
    outputs += [r.stdout, r.stderr]
    r = _run(env, "-v", "checkpoint")
    assert r.returncode == 0, r.stderr
    outputs += [r.stdout, r.stderr]
    body = "".join(pem.strip().splitlines()[1:-1])
    pieces = {body[i : i + 12] for i in range(len(body) - 11)}
    for text in outputs:  # ...but never a secret, not even a piece of the key
        assert secret not in text
        assert wrong not in text
        assert not [p for p in pieces if p in text]


def test_python_dash_m_edgeaudit_is_the_command(tmp_path: Path) -> None:
    env = _env(tmp_path / "none")
    done = subprocess.run(
        [sys.executable, "-m", "edgeaudit", "--version"],
        capture_output=True, text=True, env=env, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    again = _run(env, "--version")
    assert done.returncode == again.returncode == 0, done.stderr
    assert done.stdout == again.stdout
    assert "edgeaudit" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "edgeaudit", "verify", str(tmp_path / "missing")],
        capture_output=True, text=True, env=env, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    assert "edgeaudit: error:" in bad.stderr
