"""Witness configuration (TOML): its name, key file, state database and the logs it knows.

name = "witness.example/w1"
key = "witness.key"          # PEM (PKCS#8) Ed25519 private key, owner-only permissions
state = "witness.db"         # SQLite; relative paths are relative to this file

[[log]]
origin = "edgeaudit.local/pod1"
keys = ["edgeaudit.local/pod1+1a2b3c4d+AT..."]   # the log's verifier keys
"""

from __future__ import annotations

import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeaudit.errors import ConfigError, EdgeauditError
from edgeaudit.note.checkpoint import is_valid_name
from edgeaudit.note.signer import Ed25519Cosigner
from edgeaudit.note.verifier import Verifier
from edgeaudit.witness.state import create_private_file
from edgeaudit.witness.witness import KnownLog


@dataclass(frozen=True)
class WitnessConfig:
    path: Path
    name: str
    key_path: Path
    state_path: Path
    logs: tuple[KnownLog, ...]

    def cosigner(self) -> Ed25519Cosigner:
        return Ed25519Cosigner(self.name, load_key(self.key_path))


def load_config(path: Path) -> WitnessConfig:
    """Read and check a witness configuration; :class:`ConfigError` names the field at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"name", "key", "state", "log"}
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    name = _text(path, data, "name")
    if not is_valid_name(name):
        raise ConfigError(f"{path}: name: not a valid key name (no spaces or '+'): {name!r}")
    base = path.parent
    logs: list[KnownLog] = []
    entries = data.get("log", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: log: expected [[log]] tables")
    for i, entry in enumerate(entries):
        logs.append(_log(path, i, entry))
    origins = [log.origin for log in logs]
    dup = next((o for o in origins if origins.count(o) > 1), None)
    if dup is not None:
        raise ConfigError(f"{path}: log origin {dup!r} is listed twice")
    return WitnessConfig(
        path,
        name,
        base / _text(path, data, "key"),
        base / _text(path, data, "state"),
        tuple(logs),
    )


def _text(path: Path, table: dict[str, Any], field: str, where: str = "") -> str:
    value = table.get(field)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {where}{field}: expected a non-empty string, got {value!r}")
    return value


def _log(path: Path, i: int, entry: object) -> KnownLog:
    where = f"log[{i}]."
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: log[{i}]: expected a table")
    unknown = set(entry) - {"origin", "keys"}
    if unknown:
        raise ConfigError(f"{path}: {where}unknown field(s) {', '.join(sorted(unknown))}")
    origin = _text(path, entry, "origin", where)
    if not is_valid_name(origin):
        raise ConfigError(f"{path}: {where}origin: not a valid origin: {origin!r}")
    keys = entry.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{path}: {where}keys: expected a non-empty list of verifier keys")
    verifiers = []
    for j, text in enumerate(keys):
        try:
            verifier = Verifier.parse(text)
        except EdgeauditError as exc:
            raise ConfigError(f"{path}: {where}keys[{j}]: {exc}") from None
        if type(verifier) is not Verifier:
            raise ConfigError(f"{path}: {where}keys[{j}]: not an Ed25519 log key (type 0x01)")
        verifiers.append(verifier)
    return KnownLog(origin, tuple(verifiers))


def load_key(path: Path) -> Ed25519PrivateKey:
    """The witness's private key; refused if group or others may read it."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the witness key: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(
            f"{path}: the witness key is readable by others (mode {stat.S_IMODE(mode):o}); "
            "chmod 600 it"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: not an Ed25519 private key")
    return key


def generate_key(path: Path) -> Ed25519PrivateKey:
    """A new Ed25519 key written to ``path`` (mode 600); an existing file is never replaced."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_private_file(path, pem)
    return key
