"""The ``[[mirror]]`` tables of ``edgeaudit.toml``: the pod logs a central workspace mirrors.

One table per pod log::

    [[mirror]]
    url = "https://pod1.campus.example"      # where the pod's `serve` publishes its tiles
    key = "edgeaudit.local/pod1+1a2b3c4d+AT..."  # the pod's log verifier key (Ed25519)
    token_env = "POD1_AUDITOR_TOKEN"          # optional: env var with an officer/auditor token
    revoked = ["1a2b3c4d@5000"]               # optional: pod log keys revoked as of a size
    allow_plain_http = false                  # optional: send the token over http:// (a lab)

The log's origin is the verifier key's name: a checkpoint signed for any other origin is
refused. Two tables may not name the same origin, and a mirror may not name the workspace's
own log. ``key`` is the key the mirror trusts first; the pod's key transitions are followed
from it (``edgeaudit.mirror.keys``), minus the ``revoked`` keys (``KEYID@SIZE``, as
``verify --revoked``). A token is sent over plain ``http://`` only to a loopback host
(127.0.0.0/8, ::1, localhost) unless ``allow_plain_http = true``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from edgeaudit.errors import ConfigError, InputError
from edgeaudit.note.verifier import Verifier
from edgeaudit.verify.keychain import Revocation
from edgeaudit.workspace.config import CONFIG_NAME, MIRROR_KEYS, WorkspaceConfig

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


@dataclass(frozen=True, slots=True)
class MirrorSource:
    """A pod log the workspace mirrors: its origin, tile URL, verifier key, token variable."""

    origin: str
    url: str  # the tile prefix, without a trailing slash (``<url>/checkpoint``)
    verifier_key: str  # the pod's log key (signed-note Ed25519, type 0x01); name = origin
    token_env: str | None = None
    revoked: tuple[Revocation, ...] = ()
    allow_plain_http: bool = False

    def verifier(self) -> Verifier:
        return Verifier.parse(self.verifier_key)

    def token_problem(self) -> str | None:
        """Why the pod's token may not be sent to :attr:`url` (None: it may)."""
        if not self.token_env or self.allow_plain_http or not self.url.startswith("http://"):
            return None
        if is_loopback(urlsplit(self.url).hostname or ""):
            return None
        return (
            f"[[mirror]] {self.origin!r} ({self.url}): its token (${self.token_env}) would be "
            "sent over plain http:// to a host that is not loopback, readable by anyone on the "
            "path; use https://, or set allow_plain_http = true in that [[mirror]] table for a "
            "lab network"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or an address in 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _path(config_or_path: WorkspaceConfig | str | os.PathLike[str]) -> tuple[Path, str | None]:
    if isinstance(config_or_path, WorkspaceConfig):
        return config_or_path.root / CONFIG_NAME, config_or_path.origin
    path = Path(config_or_path)
    return (path / CONFIG_NAME if path.is_dir() else path), None


def load_mirrors(
    config_or_path: WorkspaceConfig | str | os.PathLike[str],
) -> tuple[MirrorSource, ...]:
    """The ``[[mirror]]`` tables of a workspace (its config, its directory or the TOML file),
    checked; :class:`ConfigError` names the file, the table and the key at fault."""
    path, own_origin = _path(config_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (not an edgeaudit workspace?)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if own_origin is None:
        log = raw.get("log")
        own = log.get("origin") if isinstance(log, dict) else None
        own_origin = own if isinstance(own, str) else None
    return parse_mirrors(raw.get("mirror", []), path, own_origin)


def parse_mirrors(tables: Any, path: Path, own_origin: str | None) -> tuple[MirrorSource, ...]:
    """Check the value of ``mirror`` in a parsed ``edgeaudit.toml``."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: 'mirror' must be an array of tables ([[mirror]])")
    out: list[MirrorSource] = []
    for i, table in enumerate(tables):
        source = _one(table, f"{path}: [[mirror]] #{i + 1}")
        where = f"{path}: [[mirror]] {source.origin!r}"
        if source.origin == own_origin:
            raise ConfigError(f"{where}: this is the workspace's own log, not a pod to mirror")
        if any(m.origin == source.origin for m in out):
            raise ConfigError(f"{where}: origin is mirrored by another [[mirror]] already")
        out.append(source)
    return tuple(out)


def _one(table: dict[str, Any], where: str) -> MirrorSource:
    unknown = [k for k in table if k not in MIRROR_KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(MIRROR_KEYS)})")
    for key in ("url", "key"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise ConfigError(f"{where}: {key} is missing or not a string")
    token_env = table.get("token_env")
    if token_env is not None and (
        not isinstance(token_env, str) or not _ENV_NAME.fullmatch(token_env)
    ):
        raise ConfigError(f"{where}: token_env must be an environment variable name")
    plain = table.get("allow_plain_http", False)
    if not isinstance(plain, bool):
        raise ConfigError(f"{where}: allow_plain_http must be true or false")
    revoked = table.get("revoked", [])
    if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
        raise ConfigError(f"{where}: revoked must be a list of KEYID@SIZE strings")
    try:
        revocations = tuple(Revocation.parse(r, f"{where}: revoked") for r in revoked)
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    source = make_source(table["url"], table["key"], token_env, where)
    return replace(source, revoked=revocations, allow_plain_http=plain)


def make_source(url: str, vkey: str, token_env: str | None, where: str) -> MirrorSource:
    """A checked :class:`MirrorSource` (``where`` prefixes the :class:`ConfigError`)."""
    if "@" in url.split("://", 1)[-1].split("/", 1)[0]:  # not echoed: it may hold a password
        raise ConfigError(
            f"{where}: url holds credentials (user:password@host); they would be written into "
            "fork proofs and the central log: give the pod's token in token_env instead"
        )
    if not _URL.fullmatch(url):
        raise ConfigError(
            f"{where}: url must be http(s)://host[:port][/prefix] without query, got {url!r}"
        )
    try:
        verifier = Verifier.parse(vkey)
    except InputError as exc:
        raise ConfigError(f"{where}: key is not a log verifier key: {exc}") from None
    return MirrorSource(verifier.name, url.rstrip("/"), verifier.verifier_key, token_env)


def append_mirror(config: WorkspaceConfig, source: MirrorSource) -> Path:
    """Add ``source`` as a ``[[mirror]]`` table at the end of the workspace's configuration
    (the rest of the file is kept byte for byte); refuse an origin mirrored already."""
    known = load_mirrors(config)
    if any(m.origin == source.origin for m in known):
        raise ConfigError(f"{source.origin!r} is mirrored already ([[mirror]] in {CONFIG_NAME})")
    if source.origin == config.origin:
        raise ConfigError(f"{source.origin!r} is this workspace's own log, not a pod to mirror")
    table: dict[str, str | bool] = {"url": source.url, "key": source.verifier_key}
    if source.token_env:
        table["token_env"] = source.token_env
    if source.allow_plain_http:
        table["allow_plain_http"] = True
    path = config.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    addition = ("" if text.endswith("\n") or not text else "\n") + "\n"
    addition += tomli_w.dumps({"mirror": [table]})
    with path.open("a", encoding="utf-8") as fh:
        fh.write(addition)
        fh.flush()
        os.fsync(fh.fileno())
    return path
