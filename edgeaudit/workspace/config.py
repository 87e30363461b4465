"""Workspace configuration (``edgeaudit.toml``): find, load, validate and write it."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from edgeaudit.errors import ConfigError

CONFIG_NAME = "edgeaudit.toml"
ENV_WORKSPACE = "EDGEAUDIT_WORKSPACE"
ENV_DB_URL = "EDGEAUDIT_DB_URL"
DEFAULT_DB = "sqlite:///evidence/store.db"
_SITE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ORIGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:/-]{0,254}")
DEFAULT_WITNESS_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class WitnessEntry:
    """A ``[[witness]]`` table: a witness ``checkpoint`` asks to cosign."""

    name: str
    url: str  # the submission prefix (``<url>/add-checkpoint``)
    key: str  # its verifier key (cosignature/v1, type 0x04)
    timeout: float = DEFAULT_WITNESS_TIMEOUT


@dataclass(frozen=True, slots=True)
class WorkspaceConfig:
    """A loaded, validated workspace configuration. Paths are absolute."""

    root: Path
    site: str
    origin: str
    verifier_key: str
    private_key: Path
    passphrase_env: str | None
    db_url: str
    witnesses: tuple[WitnessEntry, ...] = ()

    @property
    def state_file(self) -> Path:
        """The signer's own record of the last checkpoint it signed (outside the database)."""
        return self.private_key.with_name("last-checkpoint")


def find_root(explicit: str | os.PathLike[str] | None) -> Path:
    """The workspace directory: ``--workspace``, else ``$EDGEAUDIT_WORKSPACE``, else cwd."""
    chosen = explicit or os.environ.get(ENV_WORKSPACE) or "."
    return Path(chosen).expanduser().resolve()


def site_slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63]
    if not _SITE.fullmatch(slug):
        raise ConfigError(f"cannot derive a site name from {name!r}; pass --site NAME")
    return slug


def check_origin(origin: str) -> str:
    if not _ORIGIN.fullmatch(origin) or "://" in origin:
        raise ConfigError(
            f"origin {origin!r} must be a URL-like name without scheme, spaces or '+', "
            "e.g. audit.example.net/blr-pod-1"
        )
    return origin


# an SQLite URL whose path SQLAlchemy takes and writes back as it is (no %-escapes): resolved
# without importing SQLAlchemy, which costs a command like ``probe run`` most of its start-up
_PLAIN_SQLITE = re.compile(r"sqlite:///([A-Za-z0-9._/-]+)")


def resolve_db_url(url: str, root: Path) -> str:
    """Make a relative SQLite path relative to the workspace; pass other URLs through."""
    plain = _PLAIN_SQLITE.fullmatch(url)
    if plain is not None:  # what the general case below makes of it
        path = Path(plain[1])
        return "sqlite:///" + str(path if path.is_absolute() else root / path)
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if not path.is_absolute():
            path = root / path
        return parsed.set(database=str(path)).render_as_string(hide_password=False)
    return url


def refuse_password(url: str) -> None:
    """A database password never goes into the configuration file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(url).password
    except ArgumentError as exc:
        raise ConfigError(f"database URL is not valid: {exc}") from None
    if password:
        raise ConfigError(
            f"refusing to write a database password into {CONFIG_NAME}; put the full URL in "
            f"${ENV_DB_URL} instead and pass --db without the password"
        )


def without_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        # URL.set(password=None) means "leave unchanged"; _replace really removes it.
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except ArgumentError as exc:
        raise ConfigError(f"${ENV_DB_URL} is not a valid database URL: {exc}") from None


def load(root: Path) -> WorkspaceConfig:
    path = root / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{root} is not an edgeaudit workspace (no {CONFIG_NAME}); run `edgeaudit init` "
            f"or pass --workspace / set {ENV_WORKSPACE}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    _refuse_unknown(raw, path)
    site = _get(raw, path, "site", "name")
    log = raw.get("log", {})
    origin = check_origin(_get(raw, path, "log", "origin"))
    verifier = _get(raw, path, "log", "verifier_key")
    key_path = root / _get(raw, path, "log", "private_key")
    passphrase_env = log.get("passphrase_env")
    if passphrase_env is not None and not isinstance(passphrase_env, str):
        raise ConfigError(f"{path}: [log] passphrase_env must be a string")
    db = os.environ.get(ENV_DB_URL) or _get(raw, path, "store", "url")
    return WorkspaceConfig(
        root=root,
        site=site,
        origin=origin,
        verifier_key=verifier,
        private_key=key_path,
        passphrase_env=passphrase_env,
        db_url=resolve_db_url(db, root),
        witnesses=_witnesses(raw.get("witness", []), path),
    )


# every table and key edgeaudit.toml may hold: anything else is a mistake (a typo would
# otherwise be ignored and the default used in its place)
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "site": ("name",),
    "log": ("origin", "verifier_key", "private_key", "passphrase_env"),
    "store": ("url",),
}
WITNESS_KEYS = ("name", "url", "key", "timeout")
# [[mirror]]: checked by workspace.mirrors
MIRROR_KEYS = ("url", "key", "token_env", "revoked", "allow_plain_http")


def _witnesses(tables: Any, path: Path) -> tuple[WitnessEntry, ...]:
    """The ``[[witness]]`` tables, checked; :class:`ConfigError` names the table and key."""
    if tables == []:  # most workspaces: no key parsing (and its imports) on every command
        return ()
    from edgeaudit.errors import InputError
    from edgeaudit.note.verifier import CosignatureVerifier

    out: list[WitnessEntry] = []
    for i, t in enumerate(tables):
        where = f"{path}: [[witness]] #{i + 1}"
        for key in ("name", "url", "key"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise ConfigError(f"{where}: {key} is missing or not a string")
        name, url, vkey = t["name"], t["url"], t["key"]
        where = f"{path}: [[witness]] {name!r}"
        if not re.fullmatch(r"https?://[^\s]+", url):
            raise ConfigError(f"{where}: url must be an http:// or https:// URL, got {url!r}")
        try:
            CosignatureVerifier.parse(vkey)
        except InputError as exc:
            raise ConfigError(f"{where}: key is not a witness (cosignature) key: {exc}") from None
        timeout = t.get("timeout", DEFAULT_WITNESS_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"{where}: timeout must be a positive number of seconds")
        if any(w.name == name for w in out):
            raise ConfigError(f"{where}: name is used by another [[witness]]")
        if any(w.key == vkey for w in out):
            raise ConfigError(f"{where}: key is used by another [[witness]]")
        out.append(WitnessEntry(name, url.rstrip("/"), vkey, float(timeout)))
    return tuple(out)


def _refuse_unknown(raw: dict[str, Any], path: Path) -> None:
    problems = []
    for table, value in raw.items():
        if table == "witness":
            problems.extend(_array_problems("witness", WITNESS_KEYS, value))
            continue
        if table == "mirror":
            problems.extend(_array_problems("mirror", MIRROR_KEYS, value))
            continue
        known = KNOWN_KEYS.get(table)
        if known is None:
            kind = "table" if isinstance(value, dict) else "key"
            problems.append(
                f"unknown {kind} {table!r} (known tables: "
                + ", ".join(f"[{t}]" for t in KNOWN_KEYS)
                + ")"
            )
        elif not isinstance(value, dict):
            problems.append(f"{table!r} must be a table ([{table}]), not a value")
        else:
            problems.extend(
                f"unknown key {key!r} in [{table}] (known: {', '.join(known)})"
                for key in value
                if key not in known
            )
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))


def _array_problems(name: str, known: tuple[str, ...], value: Any) -> list[str]:
    """What is wrong with ``[[name]]`` tables: not an array of tables, or unknown keys."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        return [f"'{name}' must be an array of tables ([[{name}]])"]
    return [
        f"unknown key {key!r} in [[{name}]] #{i + 1} (known: {', '.join(known)})"
        for i, t in enumerate(value)
        for key in t
        if key not in known
    ]


def _get(raw: dict[str, Any], path: Path, table: str, key: str) -> str:
    value = raw.get(table, {}).get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: [{table}] {key} is missing or not a string")
    return value


def write(
    root: Path,
    *,
    site: str,
    origin: str,
    verifier_key: str,
    private_key: str,
    passphrase_env: str | None,
    db_url: str,
) -> Path:
    """Write a new ``edgeaudit.toml``; refuse to overwrite one."""
    refuse_password(db_url)
    log: dict[str, str] = {
        "origin": origin,
        "verifier_key": verifier_key,
        "private_key": private_key,
    }
    if passphrase_env:
        log["passphrase_env"] = passphrase_env
    doc = {"site": {"name": site}, "log": log, "store": {"url": db_url}}
    path = root / CONFIG_NAME
    try:
        with path.open("x", encoding="utf-8") as fh:
            fh.write("# edgeaudit workspace configuration\n")
            fh.write(tomli_w.dumps(doc))
    except FileExistsError:
        raise ConfigError(f"{path} already exists; this is already a workspace") from None
    return path
