"""Helpers for the CLI tests: run ``edgeaudit`` in-process, build workspaces, check by hand.

Fixtures live in each test module (pytest does not collect them from ``__init__``); the plain
functions and classes here are shared.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.cli.main import main
from edgeaudit.workspace import config as cfg

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good_events.jsonl"  # 6 events
GOOD_MORE = DATA / "good_more_events.jsonl"  # 3 more events (and blank lines)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Calls ``edgeaudit.cli.main.main`` and captures stdout/stderr with capsys.

    Every output is kept in ``transcript`` so tests can check that no secret was ever printed.
    """

    capsys: pytest.CaptureFixture[str]
    root: Path | None = None
    transcript: list[str] = field(default_factory=list)

    def __call__(self, *argv: str, stdin: bytes | None = None) -> Result:
        args = [*(["--workspace", str(self.root)] if self.root else []), *argv]
        self.capsys.readouterr()
        old_stdin = sys.stdin
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.stdin = old_stdin
        out, err = self.capsys.readouterr()
        self.transcript += [out, err]
        return Result(code, out, err)

    def ok(self, *argv: str, stdin: bytes | None = None) -> Result:
        r = self(*argv, stdin=stdin)
        assert r.code == 0, f"edgeaudit {' '.join(argv)} -> {r.code}\n{r.out}\n{r.err}"
        return r


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see a workspace or database chosen by the caller's environment."""
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)


def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


def init_args(db_url: str) -> list[str]:
    """SQLite: the default store (evidence/store.db); PostgreSQL: ``--db`` the test database."""
    return ["--db", db_url] if is_postgres(db_url) else []


def make_workspace(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    root: Path,
    db_url: str,
    *extra: str,
) -> Cli:
    clean_env(monkeypatch)
    cli = Cli(capsys, root)
    cli.ok("init", "--site", "blr-pod-1", *init_args(db_url), *extra)
    return cli


def config(cli: Cli) -> cfg.WorkspaceConfig:
    assert cli.root is not None
    return cfg.load(cli.root)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def split_note(note: str) -> tuple[str, list[str]]:
    """(body text, signature lines) of a signed note."""
    body, _, sigs = note.rpartition("\n\n")
    return body + "\n", sigs.rstrip("\n").split("\n")


# An RFC 6962 Merkle tree hash written out here from the RFC, to check the product's roots.


def mth(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def stored_entries(cli: Cli) -> list[bytes]:
    """The exact entry bytes in the workspace's store, read directly (not via the CLI)."""
    from edgeaudit.store import Store

    conf = config(cli)
    with Store.open(conf.db_url) as store:
        log = store.log(conf.origin)
        with log.reader() as reader:
            return [body for _, body, _, _ in reader.iter_entries()]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
