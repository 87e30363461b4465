"""Nothing the user asked for is silently ignored: an unknown ``--option KEY=V`` of a collector,
a collect flag the chosen collector does not use, an unknown key or table in ``edgeaudit.toml``
and an unknown command-line option are usage errors (exit 2, nothing written), as JSON on stdout
too with ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeaudit.collect.interface import declared_options, declared_uses
from edgeaudit.collect.registry import kinds, parser_class
from tests.cli import Cli

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "policies" / "inventory.yaml"
SYSLOG = (
    b"2026-11-20T10:00:00Z host-a sshd[10]: Accepted password for ravi from 10.0.0.9 port 22 ssh2\n"
)

# the collect flags that set a parse-context field, with a valid value and the field
FLAGS = [
    ("--timezone", "UTC", "timezone"),
    ("--year", "2026", "year"),
    ("--card-key-env", "X", "hmac_key"),
]


def _collect(cli: Cli, kind: str, path: Path, *extra: str) -> tuple[int, str]:
    r = cli("collect", kind, str(path), "--inventory", str(INVENTORY), *extra)
    return r.code, r.err


@pytest.fixture
def auth(tmp_path: Path) -> Path:
    path = tmp_path / "auth.log"
    path.write_bytes(SYSLOG)
    return path


def test_an_unknown_collector_option_is_an_error_and_nothing_is_collected(
    lite: Cli, auth: Path
) -> None:
    code, err = _collect(lite, "syslog", auth, "--option", "year=2026")
    assert code == 2
    assert "collect syslog: unknown --option year (syslog takes no --option)" in err
    assert "nothing was collected" in err
    code, err = _collect(lite, "auditd", auth, "--option", "hots=db-01", "--option", "zz=1")
    assert code == 2
    assert "unknown --option hots, zz (known: auditd_keys, host)" in err
    assert lite.ok("status", "--json").json()["entries"] == 0
    # the same file with the options it does take is collected
    assert (
        lite.ok("collect", "syslog", str(auth), "--inventory", str(INVENTORY), "--json").json()[
            "appended"
        ]
        == 1
    )


def test_vantage_is_only_for_nmap(lite: Cli, auth: Path) -> None:
    code, err = _collect(lite, "syslog", auth, "--vantage", "seg-ai")
    assert code == 2
    assert "--vantage is not used by syslog collectors (it is for: nmap)" in err
    assert "unknown --option" not in err  # said once, as the flag the user gave
    code, err = _collect(lite, "syslog", auth, "--option", "vantage=seg-ai")
    assert (code, "unknown --option vantage" in err) == (2, True)
    code, err = _collect(lite, "nmap", auth, "--vantage", "a", "--option", "vantage=b")
    assert (code, "--vantage and --option vantage= name different segments" in err) == (2, True)


@pytest.mark.parametrize("kind", kinds())
@pytest.mark.parametrize(("flag", "value", "field"), FLAGS)
def test_every_context_flag_on_every_collector(
    lite: Cli, tmp_path: Path, kind: str, flag: str, value: str, field: str
) -> None:
    """A flag the collector reads gets past the usage check (to the missing file); one it does
    not read is refused, naming the collectors that do read it."""
    code, err = _collect(lite, kind, tmp_path / "missing.log", flag, value)
    assert code == 2
    if field in declared_uses(parser_class(kind)):
        assert "missing.log: no such file" in err, err
    else:
        users = [k for k in kinds() if field in declared_uses(parser_class(k))]
        assert f"{flag} is not used by {kind} collectors (it is for: {', '.join(users)})" in err


@pytest.mark.parametrize("kind", kinds())
def test_every_declared_option_is_accepted_and_no_other(
    lite: Cli, tmp_path: Path, kind: str
) -> None:
    cls = parser_class(kind)
    given = [a for key in declared_options(cls) for a in ("--option", f"{key}=x")]
    code, err = _collect(lite, kind, tmp_path / "missing.log", *given)
    assert (code, "missing.log: no such file" in err) == (2, True), err
    code, err = _collect(lite, kind, tmp_path / "missing.log", "--option", "no_such_key=1")
    assert (code, "unknown --option no_such_key" in err) == (2, True), err


def test_follow_only_flags_and_follow_on_whole_files(lite: Cli, auth: Path) -> None:
    for flag in ("--poll", "--settle"):
        code, err = _collect(lite, "syslog", auth, flag, "0.5")
        assert (code, f"{flag} is only used with --follow" in err) == (2, True), err
    code, err = _collect(lite, "cloudtrail", auth, "--follow")
    assert code == 2
    assert "--follow reads growing line-oriented logs; cloudtrail reads each file as one" in err


def test_with_json_the_usage_error_is_json_on_stdout(lite: Cli, auth: Path) -> None:
    r = lite("--json", "collect", "syslog", str(auth), "--year", "2026", "--card-key-env", "K")
    assert r.code == 2
    message = json.loads(r.out)["error"]["message"]
    assert "--card-key-env is not used by syslog collectors (it is for: badge-csv)" in message
    # an option no command has: argparse's own error, its reason in the JSON too
    r = lite("collect", "syslog", str(auth), "--no-such-flag", "--json")
    assert r.code == 2
    assert json.loads(r.out)["error"] == {
        "exit_code": 2,
        "message": "usage error: edgeaudit: unrecognized arguments: --no-such-flag",
    }
    assert "unrecognized arguments: --no-such-flag" in r.err


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            '[log]\nverifier_keys = "x"\n',
            "unknown key 'verifier_keys' in [log] "
            "(known: origin, verifier_key, private_key, passphrase_env)",
        ),
        ("[serve]\nport = 9000\n", "unknown table 'serve' (known tables: [site], [log], [store])"),
        ('[store]\nurl2 = "sqlite:///x.db"\n', "unknown key 'url2' in [store] (known: url)"),
    ],
)
def test_an_unknown_key_in_the_workspace_config_is_an_error(
    lite: Cli, addition: str, expected: str
) -> None:
    assert lite.root is not None
    toml = lite.root / "edgeaudit.toml"
    text = toml.read_text(encoding="utf-8")
    table = addition.split("]", 1)[0] + "]"
    if table in text:  # a key added to an existing table goes into that table
        text = text.replace(table + "\n", addition, 1)
    else:
        text += "\n" + addition
    toml.write_text(text, encoding="utf-8")
    r = lite("status", "--json")
    assert r.code == 2
    message = json.loads(r.out)["error"]["message"]
    assert message.startswith(f"{toml}: ")
    assert expected in message


def test_a_top_level_key_in_the_workspace_config_is_an_error(lite: Cli) -> None:
    assert lite.root is not None
    toml = lite.root / "edgeaudit.toml"
    toml.write_text('timezone = "UTC"\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    r = lite("status")
    assert r.code == 2
    assert f"{toml}: unknown key 'timezone' (known tables: [site], [log], [store])" in r.err


def test_options_of_other_actions_are_refused(lite: Cli, tmp_path: Path) -> None:
    r = lite("checkpoint", "list", "3")
    assert (r.code, "`checkpoint list` lists every checkpoint; drop SIZE" in r.err) == (2, True)
    r = lite("verify", "--manifest-key", str(tmp_path / "k.pem"))
    assert r.code == 2
    assert "--manifest-key is for `verify PACK`; the store has no manifest" in r.err
    r = lite("demo", "collect", "--out", str(tmp_path / "campus"), "--events", "10", "--clean")
    assert r.code == 2
    assert "demo collect does not use --events, --clean (they shape `demo campus`)" in r.err
