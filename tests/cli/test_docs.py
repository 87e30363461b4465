"""The README's command table and examples agree with the real command line."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from edgeaudit.cli.main import _parser
from tests.cli import Cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _table_rows() -> list[str]:
    """First cells of the README's command table."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"\|\s*command\s*\|", line))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return rows


def _documented() -> dict[str, dict[str, set[str]]]:
    """command -> {"actions": {...}, "options": {...}} as the README table documents them."""
    docs: dict[str, dict[str, set[str]]] = {}
    for cell in _table_rows():
        for usage in re.findall(r"`([^`]+)`", cell):
            words = usage.split()
            entry = docs.setdefault(words[0], {"actions": set(), "options": set()})
            action = re.fullmatch(r"\[?([a-z]+)\]?", words[1]) if len(words) > 1 else None
            if action:  # `db upgrade`, `checkpoint [sign]`
                entry["actions"].add(action.group(1))
            entry["options"] |= set(re.findall(r"--[a-z][a-z-]*", usage))
    return docs


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("COLUMNS", "120")
    return Cli(capsys)


def test_the_table_was_parsed() -> None:
    docs = _documented()
    assert len(docs) >= 8
    assert docs["init"]["options"] == {"--site", "--origin", "--db", "--passphrase-env"}
    assert docs["checkpoint"]["actions"] == {"sign", "show", "list"}


def test_help_lists_exactly_the_documented_commands(cli: Cli) -> None:
    r = cli("--help")
    assert r.code == 0
    listed = re.findall(r"^ {4}([a-z]+) ", r.out, re.MULTILINE)
    assert listed
    assert set(listed) == set(_documented())


def test_each_command_accepts_what_the_table_documents(cli: Cli) -> None:
    for command, doc in _documented().items():
        r = cli(command, "--help")
        assert r.code == 0, command
        assert "--json" in r.out, f"{command}: --json is documented for every command"
        for option in doc["options"]:
            assert option in r.out, f"{command} --help does not mention {option}"
        for action in doc["actions"]:
            assert re.search(rf"\b{action}\b", r.out), f"{command} --help lacks {action}"


def test_global_options_are_in_the_help(cli: Cli) -> None:
    out = cli("--help").out
    for option in ("--workspace", "-v", "EDGEAUDIT_WORKSPACE"):
        assert option in out
    for code in ("0", "1", "2"):
        assert f"{code} " in out.split("Exit codes:")[1]


def test_readme_examples_parse() -> None:
    """Every ``edgeaudit ...`` line in the README's shell blocks is accepted by the parser."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    examples = [
        line.split("#")[0].strip()
        for block in blocks
        for line in block.splitlines()
        if line.startswith("edgeaudit ")
    ]
    assert len(examples) >= 7
    commands = {_parser().parse_args(shlex.split(line)[1:]).command for line in examples}
    assert commands <= set(_documented())


def test_the_readme_documents_every_count_of_the_collect_summary() -> None:
    from edgeaudit.collect.runner import CollectSummary

    text = README.read_text(encoding="utf-8")
    section = text[text.index("### What `collect` reports") :]
    section = section[: section.index("\n### ")]
    keys = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert keys == list(CollectSummary().to_dict())
