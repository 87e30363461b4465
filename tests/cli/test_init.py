"""``edgeaudit init``: files and modes, origin and site, workspace selection, refusals."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from edgeaudit.store import Store
from edgeaudit.store.engine import open_engine
from edgeaudit.store.migrate import head_revision
from edgeaudit.workspace import config as cfg
from tests.cli import GOOD, Cli, clean_env, file_hashes, init_args, is_postgres

TABLES = {"alembic_version", "checkpoints", "entries", "logs", "tiles"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_env(monkeypatch)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI without --workspace: tests pass it, or the env var, or chdir."""
    return Cli(capsys)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tables(url: str) -> set[str]:
    engine = open_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _empty(root: Path) -> bool:
    return not root.exists() or not any(root.iterdir())


def test_init_creates_config_key_and_migrated_store(cli: Cli, tmp_path: Path, db_url: str) -> None:
    root = tmp_path / "blr-pod-1"
    r = cli.ok("--workspace", str(root), "init", "--json", *init_args(db_url))
    out = r.json()
    assert set(out) == {"workspace", "site", "origin", "store", "verifier_key"}
    assert out["origin"] == "edgeaudit.local/blr-pod-1"

    raw = tomllib.loads((root / "edgeaudit.toml").read_text())
    assert raw["site"] == {"name": "blr-pod-1"}
    assert raw["log"]["origin"] == "edgeaudit.local/blr-pod-1"
    assert raw["log"]["private_key"] == "keys/log.key"
    assert raw["log"]["verifier_key"] == out["verifier_key"]
    assert "passphrase_env" not in raw["log"]

    assert _mode(root / "keys") == 0o700
    assert _mode(root / "keys" / "log.key") == 0o600
    key = (root / "keys" / "log.key").read_bytes()
    assert key.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert b"ENCRYPTED" not in key

    if is_postgres(db_url):
        assert raw["store"]["url"] == db_url
        assert not (root / "evidence").exists()
        store_url = db_url
    else:
        assert raw["store"]["url"] == "sqlite:///evidence/store.db"  # relative: movable
        assert _mode(root / "evidence") == 0o700
        assert (root / "evidence" / "store.db").is_file()
        store_url = f"sqlite:///{root}/evidence/store.db"
    with Store.open(store_url) as store:  # without upgrade: must already be at head
        assert set(store.table_names()) >= TABLES
        assert store.origins() == ["edgeaudit.local/blr-pod-1"]
        assert store.log("edgeaudit.local/blr-pod-1").size == 0

    r = cli.ok("--workspace", str(root), "db", "current", "--json")
    assert r.json() == {"revision": head_revision(), "head": head_revision()}
    r = cli.ok("--workspace", str(root), "db", "upgrade")
    assert head_revision() in r.out


def test_origin_is_honoured(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    cli.ok("-w", str(root), "init", "--origin", "audit.example.net/blr-pod-1")
    conf = cfg.load(root)
    assert conf.origin == "audit.example.net/blr-pod-1"
    assert conf.site == "ws"
    assert conf.verifier_key.startswith("audit.example.net/blr-pod-1+")


@pytest.mark.parametrize(
    "origin", ["audit example/pod", "audit+example/pod", "/leading-slash", "tab\there"]
)
def test_bad_origin_is_refused(cli: Cli, tmp_path: Path, origin: str) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    r = cli("-w", str(root), "init", "--origin", origin)
    assert r.code == 2
    assert "origin" in r.err
    assert "spaces or '+'" in r.err
    assert _empty(root)


def test_origin_with_scheme_is_refused(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    r = cli("-w", str(root), "init", "--origin", "https://audit.example.net/pod")
    assert r.code == 2
    assert "without scheme" in r.err
    assert _empty(root)


@pytest.mark.parametrize(
    ("dirname", "site_arg", "site"),
    [
        ("blr-pod-1", None, "blr-pod-1"),
        ("Pod_A.2", None, "pod-a-2"),
        ("anything", "Blr Pod 7", "blr-pod-7"),
    ],
)
def test_default_origin_from_site_or_directory(
    cli: Cli, tmp_path: Path, dirname: str, site_arg: str | None, site: str
) -> None:
    root = tmp_path / dirname
    cli.ok("-w", str(root), "init", *(["--site", site_arg] if site_arg else []))
    conf = cfg.load(root)
    assert conf.site == site
    assert conf.origin == f"edgeaudit.local/{site}"


def test_underivable_site_is_refused(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    r = cli("-w", str(root), "init", "--site", "!!!")
    assert r.code == 2
    assert "--site" in r.err
    assert _empty(root)


def test_workspace_option_beats_env_var_beats_cwd(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opt, env, cwd = tmp_path / "opt", tmp_path / "env", tmp_path / "cwd"
    for d in (opt, env, cwd):
        d.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(cfg.ENV_WORKSPACE, str(env))
    cli.ok("--workspace", str(opt), "init")
    assert (opt / "edgeaudit.toml").is_file()
    assert _empty(env)
    assert _empty(cwd)

    cli.ok("init")  # the env var
    assert (env / "edgeaudit.toml").is_file()
    assert _empty(cwd)

    monkeypatch.delenv(cfg.ENV_WORKSPACE)
    cli.ok("init")  # the current directory
    assert (cwd / "edgeaudit.toml").is_file()
    assert cfg.load(cwd).origin == "edgeaudit.local/cwd"

    # Later commands find the workspace the same way.
    key = {d.name: cfg.load(d).verifier_key for d in (opt, env, cwd)}
    assert cli.ok("key", "show").out.strip() == key["cwd"]
    monkeypatch.setenv(cfg.ENV_WORKSPACE, str(env))
    assert cli.ok("key", "show").out.strip() == key["env"]
    assert cli.ok("-w", str(opt), "key", "show").out.strip() == key["opt"]


def test_command_outside_a_workspace(cli: Cli, tmp_path: Path) -> None:
    r = cli("-w", str(tmp_path), "status")
    assert r.code == 2
    assert "not an edgeaudit workspace" in r.err
    assert "edgeaudit init" in r.err


def test_init_twice_changes_nothing(cli: Cli, tmp_path: Path, db_url: str) -> None:
    root = tmp_path / "ws"
    cli.ok("-w", str(root), "init", *init_args(db_url))
    cli.ok("-w", str(root), "append", str(GOOD))
    before = file_hashes(root)
    status = cli.ok("-w", str(root), "status", "--json").out
    r = cli("-w", str(root), "init", *init_args(db_url))
    assert r.code == 2
    assert "already" in r.err
    r = cli("-w", str(root), "init", "--origin", "other.example/x", *init_args(db_url))
    assert r.code == 2
    assert file_hashes(root) == before
    assert cli.ok("-w", str(root), "status", "--json").out == status


def test_stray_key_file_is_never_overwritten(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "keys").mkdir(parents=True)
    (root / "keys" / "log.key").write_bytes(b"someone's key")
    r = cli("-w", str(root), "init")
    assert r.code == 2
    assert "refusing to overwrite" in r.err
    assert (root / "keys" / "log.key").read_bytes() == b"someone's key"
    assert not (root / "edgeaudit.toml").exists()


def test_postgres_url_with_password_is_refused(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    root = tmp_path / "ws"
    r = cli("-w", str(root), "init", "--db", url)
    assert r.code == 2
    assert "password" in r.err
    assert cfg.ENV_DB_URL in r.err
    assert "s3cret-pw" not in r.out + r.err
    assert _empty(root)


def test_password_url_is_refused_before_touching_the_database(
    cli: Cli, tmp_path: Path, pg_url: str
) -> None:
    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    root = tmp_path / "ws"
    assert cli("-w", str(root), "init", "--db", url).code == 2
    assert _tables(pg_url) == set()
    assert _empty(root)


def test_failed_init_leaves_no_half_made_workspace(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    r = cli("-w", str(root), "init", "--db", "postgresql://nobody@127.0.0.1:1/x")
    assert r.code == 2
    assert "cannot open store" in r.err
    assert _empty(root)
    # Nothing is in the way of a second, working attempt.
    cli.ok("-w", str(root), "init")


def test_failed_init_in_a_new_directory(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "new" / "ws"
    r = cli("-w", str(root), "init", "--db", "sqlite:///missing-dir/store.db")
    assert r.code == 2
    assert "does not exist" in r.err
    assert _empty(root)


def test_failed_init_without_passphrase(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    r = cli("-w", str(root), "init", "--passphrase-env", "EDGEAUDIT_TEST_UNSET_PASS")
    assert r.code == 2
    assert "$EDGEAUDIT_TEST_UNSET_PASS" in r.err
    assert _empty(root)


def test_init_refuses_a_store_that_already_holds_this_log(
    cli: Cli, tmp_path: Path, db_url: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    cli.ok("-w", str(first), "init", "--origin", "audit.example.net/pod", "--db", db_url)
    cli.ok("-w", str(first), "append", str(GOOD))
    cli.ok("-w", str(first), "checkpoint")
    r = cli("-w", str(second), "init", "--origin", "audit.example.net/pod", "--db", db_url)
    assert r.code == 2
    assert "already holds a log named 'audit.example.net/pod'" in r.err
    assert _empty(second)
    # The first workspace is untouched and still verifies.
    cli.ok("-w", str(first), "verify")
    assert cli.ok("-w", str(first), "status", "--json").json()["entries"] == 6


def test_init_connects_with_the_password_from_the_env_var(
    cli: Cli, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgeaudit.store as store_pkg

    full = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    monkeypatch.setenv(cfg.ENV_DB_URL, full)
    seen: list[str] = []
    real = store_pkg.open_engine
    monkeypatch.setattr(store_pkg, "open_engine", lambda url: seen.append(url) or real(url))
    root = tmp_path / "ws"
    r = cli.ok("-w", str(root), "init", "--db", pg_url)
    assert "s3cret-pw" not in r.out + r.err
    assert "s3cret-pw" not in (root / "edgeaudit.toml").read_text()
    assert seen
    assert all(make_url(u).password == "s3cret-pw" for u in seen)
    cli.ok("-w", str(root), "status")  # later commands connect with $EDGEAUDIT_DB_URL too


def test_init_without_db_takes_the_store_from_the_env_var(
    cli: Cli, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    monkeypatch.setenv(cfg.ENV_DB_URL, full)
    other = tmp_path / "other"
    r = cli("-w", str(other), "init")
    assert "s3cret-pw" not in r.out + r.err
    assert r.code == 0, r.err
    stored = tomllib.loads((other / "edgeaudit.toml").read_text())["store"]["url"]
    assert make_url(stored).password is None
    assert make_url(stored).database == make_url(pg_url).database


def test_broken_config_is_reported(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    cli.ok("-w", str(root), "init")
    toml = root / "edgeaudit.toml"
    toml.write_text(toml.read_text().replace('origin = "', 'origin = "bad origin '))
    r = cli("-w", str(root), "status")
    assert r.code == 2
    assert "origin" in r.err
    toml.write_text("[log\n")
    r = cli("-w", str(root), "key", "show")
    assert r.code == 2
    assert str(toml) in r.err


def test_database_password_from_the_env_var_is_never_printed(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    cli.ok("-w", str(root), "init")
    monkeypatch.setenv(cfg.ENV_DB_URL, "postgresql://auditor:s3cret-pw@127.0.0.1:1/evidence")
    for command in (["status"], ["verify"], ["append", str(GOOD)], ["checkpoint"]):
        r = cli("-w", str(root), *command)
        assert r.code == 2
        assert "auditor:***@127.0.0.1:1" in r.err
        assert "s3cret-pw" not in r.out + r.err
