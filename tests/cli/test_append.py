"""``edgeaudit append``: all-or-nothing validation, dedupe, several files, stdin, --json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edgeaudit.events import MAX_ENTRY_BYTES
from tests.cli import DATA, GOOD, GOOD_MORE, Cli, read_jsonl, stored_entries


def _size(cli: Cli) -> int:
    return int(cli.ok("status", "--json").json()["entries"])


def test_good_file_is_appended_and_counted(cli: Cli) -> None:
    r = cli.ok("append", str(GOOD))
    assert "appended 6 event(s), skipped 0" in r.out
    assert "now has 6 entries" in r.out
    assert r.err == ""
    assert _size(cli) == 6
    # The stored bytes are the canonical JSON of exactly the events in the file, in order.
    assert [json.loads(b) for b in stored_entries(cli)] == read_jsonl(GOOD)


def test_same_file_again_appends_nothing(cli: Cli) -> None:
    cli.ok("append", str(GOOD))
    before = stored_entries(cli)
    r = cli.ok("append", "--json", str(GOOD))
    assert r.json() == {"appended": 0, "duplicates": 6, "first_index": None, "tree_size": 6}
    assert stored_entries(cli) == before


def test_json_output(lite: Cli) -> None:
    r = lite.ok("append", "--json", str(GOOD))
    assert r.json() == {"appended": 6, "duplicates": 0, "first_index": 0, "tree_size": 6}
    r = lite.ok("append", "--json", str(GOOD_MORE), str(GOOD))
    assert r.json() == {"appended": 3, "duplicates": 6, "first_index": 6, "tree_size": 9}


def test_several_files_in_one_call(lite: Cli) -> None:
    r = lite.ok("append", "--json", str(GOOD), str(GOOD_MORE))
    # good_more_events.jsonl has blank and whitespace-only lines: they are skipped.
    assert r.json()["appended"] == 9
    assert [json.loads(b) for b in stored_entries(lite)] == read_jsonl(GOOD) + read_jsonl(GOOD_MORE)


def test_reading_from_stdin(lite: Cli) -> None:
    r = lite.ok("append", "--json", "-", stdin=GOOD.read_bytes())
    assert r.json()["appended"] == 6
    r = lite.ok("append", "--json", str(GOOD_MORE), "-", stdin=GOOD.read_bytes())
    assert (r.json()["appended"], r.json()["duplicates"]) == (3, 6)


def test_bad_line_on_stdin_is_named_after_dash(lite: Cli) -> None:
    r = lite("append", "-", stdin=(DATA / "bad_kind_missing.jsonl").read_bytes())
    assert r.code == 2
    assert "-:2:" in r.err
    assert _size(lite) == 0


def test_unreadable_file(lite: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    r = lite("append", str(GOOD), str(missing))
    assert r.code == 2
    assert str(missing) in r.err
    assert "cannot read" in r.err
    assert _size(lite) == 0


# One fixture file per failure mode: line 1 and line 3 are good, line 2 is bad. The message
# must name FILE:2 and say what is wrong (the field, where there is one).
BAD_CASES = [
    ("bad_not_json.jsonl", "not valid JSON"),
    ("bad_not_object.jsonl", "JSON object"),
    ("bad_time_missing.jsonl", "'time'"),
    ("bad_time_not_utc.jsonl", "'time'"),
    ("bad_time_without_zone.jsonl", "'time'"),
    ("bad_time_invalid_date.jsonl", "'time'"),
    ("bad_kind_missing.jsonl", "'kind'"),
    ("bad_kind_invalid.jsonl", "'kind'"),
    ("bad_tenant_wrong_type.jsonl", "'tenant'"),
    ("bad_number_infinite.jsonl", "field latency"),
    ("bad_number_nan_literal.jsonl", "NaN"),
    ("bad_integer_beyond_2_53.jsonl", "field counter"),
    ("bad_not_utf8.jsonl", "UTF-8"),
    # Beyond 64 bits: a parser that turns big integers into floats would store these.
    ("bad_integer_beyond_64_bits.jsonl", "field counter"),
    # I-JSON (RFC 7493), which RFC 8785 requires: member names are unique.
    ("bad_duplicate_member.jsonl", "'tenant' appears more than once"),
]


@pytest.mark.parametrize(("name", "says"), BAD_CASES)
def test_bad_line_is_reported_and_nothing_is_appended(lite: Cli, name: str, says: str) -> None:
    lite.ok("append", str(GOOD_MORE))
    path = DATA / name
    r = lite("append", str(path))
    assert r.code == 2, r.out
    assert r.out == ""
    assert "nothing was appended" in r.err
    lines = [line.strip() for line in r.err.splitlines() if line.strip().startswith(str(path))]
    assert len(lines) == 1, r.err  # only the bad line is reported
    assert lines[0].startswith(f"{path}:2: ")
    assert says in lines[0]
    # Not even the good lines 1 and 3 of the same file were stored.
    assert _size(lite) == 3


def test_mixed_file_reports_every_bad_line(cli: Cli) -> None:
    path = DATA / "bad_mixed_good_and_bad.jsonl"
    r = cli("append", str(path))
    assert r.code == 2
    assert "4 bad line(s)" in r.err
    reported = re.findall(re.escape(str(path)) + r":(\d+): (.*)", r.err)
    assert [int(n) for n, _ in reported] == [3, 5, 6, 7]
    reasons = {int(n): why for n, why in reported}
    assert "'time'" in reasons[3]
    assert "'kind'" in reasons[5]
    assert "JSON" in reasons[6]
    assert "'source'" in reasons[7]
    assert _size(cli) == 0


def test_bad_line_in_a_later_file_stops_the_whole_call(lite: Cli) -> None:
    bad = DATA / "bad_time_not_utc.jsonl"
    r = lite("append", str(GOOD), str(GOOD_MORE), str(bad))
    assert r.code == 2
    assert f"{bad}:2:" in r.err
    assert str(GOOD) not in r.err
    assert _size(lite) == 0


def test_many_bad_lines_are_summarised(lite: Cli, tmp_path: Path) -> None:
    path = tmp_path / "many_bad.jsonl"
    path.write_text("".join(f'{{"time": "x{i}", "kind": "a"}}\n' for i in range(25)))
    r = lite("append", str(path))
    assert r.code == 2
    assert "25 bad line(s)" in r.err
    assert f"{path}:20:" in r.err
    assert f"{path}:21:" not in r.err
    assert "and 5 more" in r.err


def test_overlong_line_is_refused(lite: Cli, tmp_path: Path) -> None:
    path = tmp_path / "overlong.jsonl"
    pad = "a" * (2 * MAX_ENTRY_BYTES)
    path.write_text(f'{{"time": "2026-11-20T08:00:00Z", "kind": "a", "pad": "{pad}"}}\n')
    r = lite("append", str(path))
    assert r.code == 2
    assert f"{path}:1: line is longer than" in r.err
    assert len(r.err) < 1000  # the line itself is not echoed
    assert _size(lite) == 0
