"""Witnesses wired into the workspace: ``checkpoint`` asks the ``[[witness]]`` tables of
edgeaudit.toml (a real witness process on loopback, one down), ``verify --witness-policy``
and ``verify PACK --witness-policy`` require the cosignatures a C2SP policy file names."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from tests.cli import GOOD, GOOD_MORE
from tests.witness.conftest import (
    Pod,
    WitnessProcess,
    check_cosignature,
    make_pod,
    now,
    start_witness,
    witness_config,
)


def run(*argv: str) -> tuple[int, str]:
    """(exit code, output); with --json the output is stdout alone, the document (sys.stderr
    is process-wide while redirected: another thread's log line may land in it)."""
    out = io.StringIO()
    err = io.StringIO() if "--json" in argv else out
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a witness that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def add_witnesses(pod: Pod, tables: list[dict[str, Any]]) -> None:
    text = ""
    for t in tables:
        text += "\n[[witness]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in t.items())
    with (pod.path / "edgeaudit.toml").open("a") as f:
        f.write(text)


def test_checkpoint_collects_and_verify_applies_the_policy(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    ws = ["-w", str(pod.path)]
    assert run(*ws, "append", str(GOOD))[0] == 0
    w1 = start_witness(witness_config(tmp_path / "w1", "witness.test/w1", [pod]))
    witnesses.append(w1)
    other = start_witness(witness_config(tmp_path / "w2", "witness.test/w2", [pod]))
    witnesses.append(other)
    other.stop()  # a witness key we know, its server is down
    add_witnesses(
        pod,
        [
            {"name": "w1", "url": w1.url, "key": w1.vkey, "timeout": 10},  # loaded: fsync
            {"name": "w2", "url": closed_port_url(), "key": other.vkey, "timeout": 1},
        ],
    )

    code, out = run("--json", *ws, "checkpoint")
    assert code == 0, out
    data = json.loads(out)
    by_name = {w["name"]: w for w in data["witnesses"]}
    assert by_name["w1"]["cosigned"] is True
    assert by_name["w2"]["cosigned"] is False
    assert "127.0.0.1" in by_name["w2"]["error"]
    note = data["note"].encode()
    line = next(x for x in data["note"].splitlines(keepends=True) if "witness.test/w1 " in x)
    check_cosignature(line, w1.vkey, note, now())  # checked from the spec text
    # the stored copy carries it too: checkpoint show prints it
    code, out = run("--json", *ws, "checkpoint", "show")
    assert json.loads(out)["note"] == data["note"]

    # more entries, text output: says who answered
    assert run(*ws, "append", str(GOOD_MORE))[0] == 0
    code, out = run(*ws, "checkpoint")
    assert code == 0, out
    assert "cosigned by 1 of 2 witness(es)" in out
    assert "w1: cosigned" in out
    assert "w2: no cosignature" in out

    one = tmp_path / "one.policy"
    one.write_text(f"# trust w1\nwitness w1 {w1.vkey}\nquorum w1\n")
    shorthand = tmp_path / "shorthand.policy"
    shorthand.write_text(f"witness w1 {w1.vkey}\nwitness w2 {other.vkey}\nquorum 1\n")
    two = tmp_path / "two.policy"
    two.write_text(f"witness w1 {w1.vkey}\nwitness w2 {other.vkey}\ngroup both all w1 w2\n")
    two.write_text(two.read_text() + "quorum both\n")
    wrong = tmp_path / "wrong.policy"
    wrong.write_text(f"witness w1 {other.vkey}\nquorum w1\n")  # w2's key under w1's name

    for policy in (one, shorthand):
        code, out = run(*ws, "verify", "--witness-policy", str(policy))
        assert code == 0, out
        assert "witness policy" in out
        assert "met" in out
    for policy in (two, wrong):
        code, out = run(*ws, "verify", "--witness-policy", str(policy))
        assert code == 1, out
        assert "witness policy" in out
        assert "not met" in out
    code, out = run("--json", *ws, "verify", "--witness-policy", str(two))
    assert code == 1
    assert [p["code"] for p in json.loads(out)["problems"]] == ["witness"]

    # proofs: the checkpoint printed carries the cosignatures; the policy is applied
    code, out = run(*ws, "proof", "inclusion", "0", "--witness-policy", str(one))
    assert code == 0, out
    assert "witness.test/w1 " in out
    code, out = run("--json", *ws, "proof", "consistency", "6", "9", "--witness-policy", str(one))
    assert code == 0, out
    assert "witness.test/w1 " in json.loads(out)["new_checkpoint"]
    for kind, sizes in (("inclusion", ["0"]), ("consistency", ["6", "9"])):
        code, out = run(*ws, "proof", kind, *sizes, "--witness-policy", str(two))
        assert code == 1, out
        assert "not met" in out

    # a pack built now carries the cosignatures of its checkpoint
    mkey = tmp_path / "manifest.pub"
    assert run(*ws, "pack", "key", "--out", str(mkey))[0] == 0
    pack = tmp_path / "pack"
    code, out = run(*ws, "pack", "build", "--quarter", "2026Q4", "--no-pdf", "--out", str(pack))
    assert code == 0, out
    assert "witness.test/w1 " in (pack / "checkpoint").read_text()
    verify = ["verify", str(pack), "--key", pod.vkey(), "--manifest-key", str(mkey)]
    code, out = run(*verify, "--witness-policy", str(one))
    assert code == 0, out
    for policy in (two, wrong):
        code, out = run(*verify, "--witness-policy", str(policy))
        assert code == 1, out
        assert "not met" in out
    # and with the policy, verify PACK still loads no database or signing code
    script = (
        "import contextlib, io, json, sys\n"
        "for m in ('sqlalchemy', 'psycopg', 'alembic', 'weasyprint'):\n"
        "    sys.modules[m] = None\n"
        "from edgeaudit.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({[*verify, '--witness-policy', str(one)]!r})\n"
        "bad = ('edgeaudit.note.signer', 'edgeaudit.store', 'edgeaudit.pack',\n"
        "       'edgeaudit.workspace')\n"
        "print(json.dumps([code, sorted(m for m in sys.modules if m.startswith(bad))]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0, []]


def test_a_checkpoint_no_witness_cosigned_fails_the_policy(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(3)
    w1 = start_witness(witness_config(tmp_path / "w1", "witness.test/w1", [pod]))
    witnesses.append(w1)
    w1.stop()
    add_witnesses(pod, [{"name": "w1", "url": w1.url, "key": w1.vkey, "timeout": 1}])
    code, out = run("--json", "-w", str(pod.path), "checkpoint")
    assert code == 0, out  # keeps going with none
    assert json.loads(out)["witnesses"][0]["cosigned"] is False
    policy = tmp_path / "p"
    policy.write_text(f"witness w1 {w1.vkey}\nquorum w1\n")
    code, out = run("-w", str(pod.path), "verify", "--witness-policy", str(policy))
    assert code == 1, out
    assert "cosigned by: none" in out


def test_configuration_and_policy_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    pod = make_pod(tmp_path / "pod")
    toml = (pod.path / "edgeaudit.toml").read_text()
    vkey_line = "witness.test/w1+00000000+BA" + "A" * 43
    for tables, needle in (
        ([{"name": "w1", "url": "http://127.0.0.1:1", "key": pod.vkey(), "tmeout": 1}], "tmeout"),
        ([{"name": "w1", "url": "http://127.0.0.1:1", "key": pod.vkey()}], "key"),
        ([{"name": "w1", "url": "ftp://x", "key": vkey_line}], "url"),
        ([{"url": "http://127.0.0.1:1", "key": vkey_line}], "name"),
    ):
        (pod.path / "edgeaudit.toml").write_text(toml)
        add_witnesses(pod, tables)
        code, out = run("-w", str(pod.path), "checkpoint")
        assert code == 2, out
        assert "[[witness]]" in out, out
        assert needle in out, out
    (pod.path / "edgeaudit.toml").write_text(toml)
    for text, needle in (
        ("witness w1 not-a-key\nquorum w1\n", ":1"),
        ("quorum w9\n", "w9"),
        (f"witness w1 {pod.vkey()}\nquorum w1\n", ":1"),  # a log key, not a witness key
        ("group g 1 w1\nquorum g\n", "not defined"),
        ("witness w1 x\n", ""),
    ):
        policy = tmp_path / "bad.policy"
        policy.write_text(text)
        code, out = run("-w", str(pod.path), "verify", "--witness-policy", str(policy))
        assert code == 2, (text, out)
        assert str(policy) in out, out
        assert needle in out, out


def test_policy_groups_are_evaluated_as_the_c2sp_example_says() -> None:
    """``group X 2 X1 X2 X3`` / ``group Y any Y1 Y2`` / ``group XY all X Y`` / ``quorum XY``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edgeaudit.canonical import signature_line, signed_note
    from edgeaudit.errors import VerificationError
    from edgeaudit.note.signer import Ed25519Cosigner
    from edgeaudit.verify.witnesses import check_policy, parse_policy

    names = ["X1", "X2", "X3", "Y1", "Y2"]
    keys = {n: Ed25519Cosigner(f"w.test/{n}", Ed25519PrivateKey.generate()) for n in names}
    text = "".join(f"witness {n} {k.verifier_key}  # {n}\n" for n, k in keys.items())
    text += "group X 2 X1 X2 X3\ngroup Y any Y1 Y2\ngroup XY all X Y\nquorum XY\n"
    policy = parse_policy(text, "campus.policy")
    body = b"edgeaudit.local/pod1\n5\n" + b"A" * 43 + b"=\n"

    def note(*signers: str) -> bytes:
        lines = [signature_line(keys[n].name, keys[n].key_id, keys[n].sign(body)) for n in signers]
        return signed_note(body, lines)

    assert check_policy(note("X1", "X3", "Y2"), policy) == ("X1", "X3", "Y2")
    for short in (("X1", "X2"), ("X1", "Y1", "Y2"), ("X2", "X2", "Y1")):  # X2 counted once
        with pytest.raises(VerificationError, match="quorum XY"):
            check_policy(note(*short), policy)
    assert check_policy(note("Y1"), parse_policy(text.replace("quorum XY", "quorum none"))) == ()
