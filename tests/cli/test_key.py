"""``edgeaudit key show`` and the log key on disk: encryption, mode, replacement, secrecy."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.note.verifier import Verifier
from tests.cli import GOOD, GOOD_MORE, Cli, config, make_workspace

PASS_VAR = "EDGEAUDIT_TEST_LOG_PASS"
PASSPHRASE = "correct horse battery staple 42"


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return make_workspace(capsys, monkeypatch, tmp_path / "ws", "sqlite")


@pytest.fixture
def encrypted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    monkeypatch.setenv(PASS_VAR, PASSPHRASE)
    return make_workspace(
        capsys, monkeypatch, tmp_path / "ws", "sqlite", "--passphrase-env", PASS_VAR
    )


def _checkpoints(cli: Cli) -> list[int]:
    return [c["tree_size"] for c in cli.ok("checkpoint", "list", "--json").json()["checkpoints"]]


PKCS8_ED25519_PREFIX = "MC4CAQAwBQYDK2VwBCIEI"  # the public PKCS#8 header of every Ed25519 key


def _secret_windows(key_file: Path, passphrase: bytes | None = None, width: int = 12) -> set[str]:
    """Every ``width``-character piece of the private key's text forms: printing any of them
    (even a truncated repr of the PEM) leaks key material."""
    pem = key_file.read_text()
    body = "".join(pem.strip().splitlines()[1:-1])
    if body.startswith(PKCS8_ED25519_PREFIX):  # unencrypted: the seed follows the header
        body = body[len(PKCS8_ED25519_PREFIX) :]
    key = serialization.load_pem_private_key(pem.encode(), passphrase)
    assert isinstance(key, Ed25519PrivateKey)
    raw = key.private_bytes_raw()
    forms = [body, raw.hex(), base64.b64encode(raw).decode()]
    return {f[i : i + width] for f in forms for i in range(len(f) - width + 1)}


def _assert_no_secret(texts: list[str], secrets: set[str]) -> None:
    for text in texts:
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"secret material printed: {leaked[:3]} in {text[:200]!r}"


def test_key_show_prints_the_c2sp_verifier_key(cli: Cli) -> None:
    conf = config(cli)
    text = cli.ok("key", "show").out.strip()
    assert re.fullmatch(r"edgeaudit\.local/blr-pod-1\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*", text)
    v = Verifier.parse(text)
    assert v.name == conf.origin
    assert v.verifier_key == text == conf.verifier_key
    assert cli.ok("key", "show", "--json").json() == {"verifier_key": text}
    # It is the public half of keys/log.key.
    key = serialization.load_pem_private_key(conf.private_key.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    assert v.public_key == key.public_key().public_bytes_raw()


def test_encrypted_key_with_passphrase_env(encrypted: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = encrypted
    conf = config(cli)
    assert conf.passphrase_env == PASS_VAR
    pem = conf.private_key.read_text()
    assert "ENCRYPTED" in pem
    assert stat.S_IMODE(conf.private_key.stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # really needs the passphrase
        serialization.load_pem_private_key(pem.encode(), None)

    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    assert _checkpoints(cli) == [6]
    cli.ok("append", str(GOOD_MORE))

    monkeypatch.delenv(PASS_VAR)
    r = cli("checkpoint")
    assert r.code == 2
    assert f"${PASS_VAR}" in r.err
    monkeypatch.setenv(PASS_VAR, "")
    r = cli("checkpoint")
    assert r.code == 2
    assert f"${PASS_VAR}" in r.err

    monkeypatch.setenv(PASS_VAR, "wrong " + PASSPHRASE)
    r = cli("checkpoint")
    assert r.code == 2
    assert "wrong passphrase" in r.err
    assert _checkpoints(cli) == [6]  # nothing was signed by the failed attempts

    # Commands that do not sign never need the passphrase.
    monkeypatch.delenv(PASS_VAR)
    cli.ok("key", "show")
    cli.ok("verify")
    cli.ok("proof", "inclusion", "0")
    cli.ok("status")

    monkeypatch.setenv(PASS_VAR, PASSPHRASE)
    cli.ok("checkpoint")
    assert _checkpoints(cli) == [6, 9]

    secrets = {PASSPHRASE, *_secret_windows(conf.private_key, PASSPHRASE.encode())}
    _assert_no_secret(cli.transcript, secrets)


def test_unencrypted_key_never_printed(cli: Cli) -> None:
    conf = config(cli)
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    cli.ok("checkpoint", "show", "--json")
    cli.ok("key", "show", "--json")
    cli.ok("verify", "--json")
    cli.ok("proof", "inclusion", "1", "--json")
    conf.private_key.chmod(0o644)
    assert cli("checkpoint").code == 2
    conf.private_key.chmod(0o600)
    # The key file handed by mistake to commands that read files.
    assert cli("append", str(conf.private_key)).code == 2
    assert cli("verify", "--trusted-checkpoint", str(conf.private_key)).code == 1
    _assert_no_secret(cli.transcript, _secret_windows(conf.private_key))


def test_private_key_given_as_verifier_key_is_not_echoed(cli: Cli) -> None:
    conf = config(cli)
    r = cli("verify", "--key", str(conf.private_key))
    assert r.code == 2
    _assert_no_secret([r.out, r.err], _secret_windows(conf.private_key))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o700])
def test_key_readable_by_others_is_refused(cli: Cli, mode: int) -> None:
    conf = config(cli)
    cli.ok("append", str(GOOD))
    conf.private_key.chmod(mode)
    r = cli("checkpoint")
    if mode & 0o077:
        assert r.code == 2
        assert f"chmod 600 {conf.private_key}" in r.err
        assert f"{mode:04o}" in r.err
        assert _checkpoints(cli) == []
        assert not conf.state_file.exists()
        conf.private_key.chmod(0o600)
        cli.ok("checkpoint")
    else:  # owner-only modes are fine
        assert r.code == 0, r.err
    assert _checkpoints(cli) == [6]


def test_replaced_key_is_refused(cli: Cli) -> None:
    conf = config(cli)
    cli.ok("append", str(GOOD))
    cli.ok("checkpoint")
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    conf.private_key.write_bytes(other)
    assert stat.S_IMODE(conf.private_key.stat().st_mode) == 0o600
    cli.ok("append", str(GOOD_MORE))
    r = cli("checkpoint")
    assert r.code == 2
    assert "does not match the verifier key" in r.err
    assert conf.verifier_key in r.err
    assert _checkpoints(cli) == [6]


def test_missing_or_garbage_key(cli: Cli) -> None:
    conf = config(cli)
    conf.private_key.write_bytes(b"not a key\n")
    r = cli("checkpoint")
    assert r.code == 2
    assert "cannot load log key" in r.err
    conf.private_key.unlink()
    r = cli("checkpoint")
    assert r.code == 2
    assert "missing" in r.err
    assert _checkpoints(cli) == []
