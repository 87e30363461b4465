"""Consistent copies of a store, and putting one back.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
  under one read transaction, so the copy is a snapshot even while appenders run (WAL readers
  do not block writers). The copy is switched to ``journal_mode=DELETE``: one self-contained
  file. Restoring copies it back the same way into a new file next to the store and renames it
  into place; a store being replaced is renamed aside, never deleted.
* PostgreSQL: ``pg_dump`` (custom format) of a snapshot exported from a REPEATABLE READ
  transaction (``pg_export_snapshot``), in which the tree size and latest checkpoint recorded in
  the manifest are read too; ``pg_restore`` puts it back. Both must be on ``PATH``; without them
  the backup is refused (exit 2) and docs/adr/0011-backup-and-damaged-store.md gives the
  procedure by hand. The password, if any, goes to the tools in ``$PGPASSWORD``, never on a
  command line.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import URL, make_url

from edgeaudit.errors import ConfigError, StoreError
from edgeaudit.store import LogNotFoundError, Store, health
from edgeaudit.store.engine import SQLITE_BUSY_TIMEOUT_MS, normalize_url, open_engine
from edgeaudit.store.reader import LogReader
from edgeaudit.store.schema import Log
from edgeaudit.store.values import StoredCheckpoint

SQLITE_FILE = "store.db"
PG_FILE = "store.pgdump"
PROCEDURE = "docs/adr/0011-backup-and-damaged-store.md"


@dataclass(frozen=True, slots=True)
class StoreCopy:
    """What a copy of the store holds (read from the copy, or from the dump's snapshot)."""

    backend: str
    file: str  # name of the copy in the backup directory
    tool: str  # how it was made, for people
    tree_size: int
    checkpoint: StoredCheckpoint | None
    root_at_checkpoint: bytes | None  # recomputed from the copy's tiles


def backend_of(url: str) -> str:
    return make_url(normalize_url(url)).get_backend_name()


def require_tool(name: str) -> str:
    """The path of PostgreSQL client tool ``name``, or ConfigError (exit 2) naming the
    procedure to follow by hand."""
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"the store is a PostgreSQL database and `{name}` is not on PATH: install the "
            "PostgreSQL client tools of the server's major version (Debian: apt install "
            f"postgresql-client) and run this again, or follow the procedure by hand in "
            f"{PROCEDURE} (pg_dump -Fc of the database plus the workspace files). Nothing "
            "was written"
        )
    return found


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_connect(path: Path, mode: str) -> sqlite3.Connection:
    return sqlite3.connect(
        f"file:{quote(str(path.absolute()))}?mode={mode}",
        uri=True,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )


def _sqlite_file(url: str) -> Path:
    path = health.sqlite_path(normalize_url(url))
    assert path is not None
    return Path(path)


def _translate(exc: sqlite3.Error, where: Path) -> StoreError:
    if health.is_damage(exc):
        return health.StoreDamagedError(str(where), str(exc))
    return StoreError(f"{where}: {exc}")


def _copy_pages(src_path: Path, src_mode: str, dst_path: Path, journal_mode: str) -> None:
    """Copy a SQLite database page by page (one snapshot) into a new file."""
    src = _sqlite_connect(src_path, src_mode)
    try:
        dst = sqlite3.connect(dst_path)
        try:
            src.backup(dst)  # all pages in one step: one read transaction, one snapshot
            dst.execute(f"PRAGMA journal_mode={journal_mode}")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()
    _fsync(dst_path)


def copy_sqlite(url: str, origin: str, dest: Path) -> StoreCopy:
    """Copy the SQLite store into ``dest / store.db``; refuse a store whose pages are damaged."""
    src = _sqlite_file(url)
    if not src.exists():
        raise health.StoreMissingError(str(src), "the file does not exist", "nothing to back up")
    target = dest / SQLITE_FILE
    try:
        _copy_pages(src, "rw", target, "DELETE")  # rw: a WAL reader may need to make -shm
    except sqlite3.Error as exc:
        raise _translate(exc, src) from exc
    target.chmod(0o600)
    problems = _quick_check(target)
    if problems:
        raise health.StoreDamagedError(
            str(src),
            "quick_check of the copy: " + "; ".join(problems),
            "a backup of it would be damaged too; back up an intact copy instead",
        )
    size, latest, root = read_copy(target, origin)
    return StoreCopy(
        "sqlite",
        SQLITE_FILE,
        f"SQLite online backup API (sqlite3 {sqlite3.sqlite_version})",
        size,
        latest,
        root,
    )


def _quick_check(path: Path) -> list[str]:
    conn = _sqlite_connect(path, "ro")
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.Error as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def read_copy(path: Path, origin: str) -> tuple[int, StoredCheckpoint | None, bytes | None]:
    """(tree size, latest checkpoint, root recomputed at its size) of a SQLite copy, read
    without leaving a -wal or -shm file next to it."""
    with Store.open(f"sqlite:///{path.absolute()}") as store:
        log = store.log(origin)
        with log.reader() as reader:
            found = _read(reader)
    _no_wal(path)
    return found


def _read(reader: LogReader) -> tuple[int, StoredCheckpoint | None, bytes | None]:
    size, _ = reader.head()
    checkpoints = reader.checkpoints()
    latest = checkpoints[-1] if checkpoints else None
    root = reader.root(latest.tree_size) if latest and latest.tree_size else None
    return size, latest, root


def _no_wal(path: Path) -> None:
    conn = _sqlite_connect(path, "rw")
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


def sqlite_is_empty(path: Path) -> bool:
    """True when the file is absent, zero-length, has no tables, or holds neither entries nor
    checkpoints. A file SQLite cannot read counts as not empty (it may hold evidence)."""
    if not path.exists() or path.stat().st_size == 0:
        return True
    try:
        conn = _sqlite_connect(path, "ro")
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            return not any(
                conn.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone()  # noqa: S608 (constant)
                for t in ("entries", "checkpoints")
                if t in tables
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def restore_sqlite(copy: Path, url: str, *, force: bool) -> Path | None:
    """Put the SQLite copy in place of the store of ``url``. An existing store that is not
    empty is refused unless ``force``; it is then renamed aside (returned), never deleted."""
    target = _sqlite_file(url)
    if not target.parent.is_dir():
        raise ConfigError(f"directory {target.parent} for the SQLite store does not exist")
    aside = None
    if target.exists():
        if not force and not sqlite_is_empty(target):
            raise ConfigError(
                f"refusing to overwrite the store {target}: it is not empty (or cannot be "
                "read); pass --force to replace it (it is renamed aside, not deleted)"
            )
        aside = _rename_aside(target)
    else:
        for suffix in ("-wal", "-shm", "-journal"):  # leftovers of a store deleted by hand
            _rename_aside(target.with_name(target.name + suffix))
    tmp = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        _copy_pages(copy, "ro", tmp, "WAL")
        tmp.replace(target)
    except sqlite3.Error as exc:
        raise _translate(exc, copy) from exc
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return aside


def _rename_aside(path: Path) -> Path | None:
    """Rename ``path`` (and its -wal / -shm) to ``<name>.replaced-<UTC time>``."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.replaced-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.replaced-{stamp}-{n}")
    path.replace(aside)
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.replace(aside.with_name(aside.name + suffix))
    return aside


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with suppress(OSError):  # some file systems cannot fsync a directory; the rename happened
        _fsync(path)


# -- PostgreSQL -----------------------------------------------------------------------------


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it."""
    parsed = make_url(normalize_url(url))
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return plain, env


def _tool_version(tool: str) -> str:
    try:
        done = subprocess.run(
            [tool, "--version"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return tool
    return done.stdout.strip() or tool


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except OSError as exc:
        raise StoreError(f"cannot run {argv[0]}: {exc.strerror}") from None
    if done.returncode != 0:
        said = " ".join(line.strip() for line in done.stderr.strip().splitlines()[-5:])
        raise StoreError(f"{what} failed ({Path(argv[0]).name} exit {done.returncode}): {said}")


def dump_postgres(url: str, origin: str, dest: Path) -> StoreCopy:
    """``pg_dump -Fc`` of one exported snapshot into ``dest / store.pgdump``."""
    pg_dump = require_tool("pg_dump")
    target = dest / PG_FILE
    conninfo, env = libpq(url)
    engine = open_engine(url)
    try:
        with _snapshot(engine.connect()) as (conn, snapshot):
            t = Log.__table__
            log_id = conn.execute(select(t.c.id).where(t.c.origin == origin)).scalar()
            if log_id is None:
                raise LogNotFoundError(health.location(engine.url), origin)
            found = _read(LogReader(conn, int(log_id)))
            argv = [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"]
            _run([*argv, conninfo], env, "pg_dump")
    finally:
        engine.dispose()
    target.chmod(0o600)
    return StoreCopy(
        "postgresql",
        PG_FILE,
        f"{pg_dump} ({_tool_version(pg_dump)}), custom format",
        found[0],
        found[1],
        found[2],
    )


@contextmanager
def _snapshot(conn: Connection) -> Iterator[tuple[Connection, str]]:
    with conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            yield conn, str(snapshot)


def postgres_is_empty(url: str) -> bool:
    """True when the database has neither entries nor checkpoints (or no edgeaudit tables).
    A database that cannot be read counts as not empty."""
    engine = open_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return not any(
                conn.execute(text(f"SELECT 1 FROM {t} LIMIT 1")).first()  # noqa: S608 (constant)
                for t in ("entries", "checkpoints")
                if t in tables
            )
    except health.StoreMissingError as exc:
        name = make_url(normalize_url(url)).database
        raise ConfigError(
            f"the database of the store {exc.location} does not exist: create it (e.g. "
            f"`createdb {name}` as a user allowed to) and restore again; nothing was written"
        ) from None
    except Exception:
        return False
    finally:
        engine.dispose()


def restore_postgres(dump: Path, url: str, *, force: bool) -> None:
    """``pg_restore`` the dump into the (existing) database of ``url``, in one transaction.
    A database holding entries or checkpoints is refused unless ``force``; then the archive's
    objects are dropped first (``--clean``)."""
    pg_restore = require_tool("pg_restore")
    empty = postgres_is_empty(url)
    if not empty and not force:
        raise ConfigError(
            f"refusing to overwrite the store {health.location(url)}: it is not empty (or "
            "cannot be read); pass --force to replace its edgeaudit tables"
        )
    conninfo, env = libpq(url)
    argv = [pg_restore, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if _has_tables(url):
        argv += ["--clean", "--if-exists"]
    _run([*argv, f"--dbname={conninfo}", str(dump)], env, "pg_restore")


def _has_tables(url: str) -> bool:
    engine = open_engine(url)
    try:
        return bool(inspect(engine).get_table_names())
    except Exception:
        return True
    finally:
        engine.dispose()


def is_empty(url: str) -> bool:
    if backend_of(url) == "sqlite":
        return sqlite_is_empty(_sqlite_file(url))
    return postgres_is_empty(url)
