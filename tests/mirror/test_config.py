"""``[[mirror]]`` tables: parsed, checked, appended; mistakes named with file and table."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeaudit.errors import ConfigError
from edgeaudit.note.signer import generate
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.mirrors import MirrorSource, append_mirror, load_mirrors, make_source
from tests.pack.helpers import run


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)
    root = tmp_path / "central"
    assert run("--workspace", str(root), "init", "--site", "central")[0] == 0
    return root


def test_append_and_load(ws: Path) -> None:
    config = cfg.load(ws)
    assert load_mirrors(config) == ()
    vkey = generate("campus.example/pod1").verifier_key
    before = (ws / cfg.CONFIG_NAME).read_text()
    append_mirror(config, make_source("http://127.0.0.1:1/", vkey, "POD1_TOKEN", "x"))
    after = (ws / cfg.CONFIG_NAME).read_text()
    assert after.startswith(before)  # the rest of the file is kept as it was
    expected = MirrorSource("campus.example/pod1", "http://127.0.0.1:1", vkey, "POD1_TOKEN")
    assert load_mirrors(config) == (expected,)
    assert load_mirrors(ws) == load_mirrors(ws / cfg.CONFIG_NAME) == (expected,)
    cfg.load(ws)  # [[mirror]] is a known table
    with pytest.raises(ConfigError, match="mirrored already"):
        append_mirror(config, expected)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('url = "http://h"\nkey = "{k}"\ntokenenv = "X"', "unknown key 'tokenenv'"),
        ('key = "{k}"', "url is missing"),
        ('url = "ftp://h"\nkey = "{k}"', "url must be http"),
        ('url = "http://h"\nkey = "nonsense"', "key is not a log verifier key"),
        ('url = "http://h"\nkey = "{k}"\ntoken_env = "A B"', "token_env"),
        ('url = "http://u:s3cret@h"\nkey = "{k}"', "url holds credentials"),
        ('url = "http://h"\nkey = "{own}"', "own log"),
    ],
)
def test_bad_tables_are_named(ws: Path, table: str, named: str) -> None:
    config = cfg.load(ws)
    vkey = generate("campus.example/pod1").verifier_key
    path = ws / cfg.CONFIG_NAME
    own = config.verifier_key
    path.write_text(path.read_text() + "\n[[mirror]]\n" + table.format(k=vkey, own=own) + "\n")
    with pytest.raises(ConfigError, match=named) as err:
        load_mirrors(config)
    assert str(path) in str(err.value)
    assert "s3cret" not in str(err.value)


def test_two_tables_for_one_origin(ws: Path) -> None:
    vkey = generate("campus.example/pod1").verifier_key
    path = ws / cfg.CONFIG_NAME
    table = f'\n[[mirror]]\nurl = "http://h"\nkey = "{vkey}"\n'
    path.write_text(path.read_text() + table + table)
    with pytest.raises(ConfigError, match="another"):
        load_mirrors(ws)
    path.write_text(path.read_text() + '\n[[mirror]]\ntokn = "x"\n')
    with pytest.raises(ConfigError, match="tokn"):
        cfg.load(ws)
