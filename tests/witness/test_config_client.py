"""Configuration errors, the key's permissions, and the client helper against a real witness."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.cli.main import main
from edgeaudit.note.signer import Ed25519Cosigner
from edgeaudit.note.verifier import CosignatureVerifier
from edgeaudit.witness import WitnessConflict, WitnessRefused, add_checkpoint
from edgeaudit.witness.client import WitnessClient
from tests.witness.conftest import (
    WitnessProcess,
    check_cosignature,
    make_pod,
    now,
    start_witness,
    witness_config,
)


def run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


def test_key_is_owner_only_and_config_errors_name_the_field(tmp_path: Path) -> None:
    pod = make_pod(tmp_path / "pod")
    config = witness_config(tmp_path / "w", "witness.test/w1", [pod])
    key = config.with_suffix(".key")
    assert key.stat().st_mode & 0o777 == 0o600
    assert config.stat().st_mode & 0o777 == 0o600
    # init never replaces a configuration or a key
    assert run("witness", "init", "--config", str(config), "--name", "w")[0] == 2

    key.chmod(0o640)
    code, err = run("witness", "key", "--config", str(config))
    assert code == 2
    assert "readable by others" in err
    assert str(key) in err
    key.chmod(0o600)
    assert run("witness", "key", "--config", str(config))[0] == 0

    text = config.read_text()
    config.write_text(text.replace("keys = [", "keyz = ["))
    code, err = run("witness", "serve", "--config", str(config))
    assert code == 2
    assert "log[0]" in err
    assert "keyz" in err
    config.write_text(text.replace('"edgeaudit.local/pod1+', '"edgeaudit.local/pod1+0'))
    code, err = run("witness", "serve", "--config", str(config))
    assert code == 2
    assert "log[0].keys[0]" in err
    config.write_text("name = [\n")
    code, err = run("witness", "serve", "--config", str(config))
    assert code == 2
    assert "not valid TOML" in err


def test_client_helper_returns_the_verified_cosignature(
    tmp_path: Path, witnesses: list[WitnessProcess]
) -> None:
    pod = make_pod(tmp_path / "pod")
    pod.append(4)
    note4 = pod.checkpoint()
    w = start_witness(witness_config(tmp_path / "w", "witness.test/w1", [pod]))
    witnesses.append(w)
    key = CosignatureVerifier.parse(w.vkey)

    with pytest.raises(WitnessConflict) as conflict:
        add_checkpoint(w.url, note4, 3, [])
    assert conflict.value.latest_size == 0
    lines = add_checkpoint(w.url, note4, 0, [], witness_key=key)
    assert len(lines) == 1
    check_cosignature(lines[0], w.vkey, note4, now())

    client = WitnessClient(w.url)  # one keep-alive connection for several submissions
    try:
        for _ in range(3):
            old = int(note4.split(b"\n")[1])
            pod.append(2)
            note = pod.checkpoint()
            new = int(note.split(b"\n")[1])
            lines = client.add_checkpoint(note, old, pod.proof(old, new), witness_key=key)
            check_cosignature(lines[0], w.vkey, note, now())
            note4 = note
        # A witness key we do not trust under that name: its answer is not accepted.
        stranger = Ed25519Cosigner("witness.test/w1", Ed25519PrivateKey.generate()).verifier()
        size = int(note4.split(b"\n")[1])
        with pytest.raises(WitnessRefused, match="no valid cosignature"):
            client.add_checkpoint(note4, size, [], witness_key=stranger)
        with pytest.raises(WitnessRefused) as refused:
            client.add_checkpoint(note4, 0, [b"\x00" * 32], witness_key=key)
        assert refused.value.status == 409
    finally:
        client.close()
