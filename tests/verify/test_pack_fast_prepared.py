"""A helper of ``verify PACK`` started before the rules are known (pack_helper.prepare): the
entries check takes it instead of starting another and reports what one process reports; one
nobody takes is stopped; one whose caller never sends the rules answers nothing; and the
frames it is told things in (edgeaudit.verify.child.send and receive)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.verify import child, pack_files, pack_helper
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_entries import Cited, check_entries
from edgeaudit.verify.pack_files import PackFiles, PackReport
from tests.verify.test_pack_fast_helper import PERIOD, N, _bodies, _line, _pack


def _check(files: PackFiles, root: bytes, leaves: list[bytes]) -> tuple[list[str], int]:
    manifest: dict[str, Any] = {
        "format": pf.FORMAT,
        "tenant": None,
        "period": PERIOD,
        "entries": len(leaves),
        "redacted": 0,
    }
    cited = Cited(refs={i: [(f"R-{i}", leaves[i].hex())] for i in (7, N - 5)})
    report = PackReport(str(files.path))
    check_entries(files, manifest, len(leaves), root, cited, report)
    if report.ok:
        assert sorted(cited.present) == [7, N - 5]
    return [str(p) for p in report.problems], report.entries


@pytest.mark.parametrize("tampered", [False, True])
def test_the_prepared_helper_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tampered: bool
) -> None:
    bodies = _bodies()
    lines = [_line(i, b) for i, b in enumerate(bodies)]
    leaves = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    if tampered:  # a line of the helper's part the batch does not take: checked here
        at = N * 3 // 4
        lines[at] = lines[at].replace(b'","index"', b'", "index"')
    path, root = _pack(tmp_path, lines, leaves, False)
    monkeypatch.setattr(pack_files, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "1")
    files = PackFiles(path)
    alone = _check(files, root, leaves)
    files.close()

    spawned: list[object] = []
    spawn = child.spawn

    def counting(*args: Any) -> object:
        spawned.append(proc := spawn(*args))
        return proc

    monkeypatch.setattr(pack_helper, "spawn", counting)
    monkeypatch.setattr(pack_helper, "MIN_BYTES", 0)
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "2")
    files = PackFiles(path)
    try:
        pack_helper.prepare(files, pf.EVIDENCE)
        assert len(spawned) == 1
        assert (id(files), pf.EVIDENCE) in pack_helper._prepared
        helped = _check(files, root, leaves)
    finally:
        pack_helper.discard(files)
        files.close()
    assert len(spawned) == 1  # taken, not a second one started
    assert not pack_helper._prepared
    assert helped == alone
    assert (helped[0] == []) == (not tampered)
    if not tampered:
        assert helped[1] == N


def test_an_untaken_helper_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = _bodies()
    leaves = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    path, _ = _pack(tmp_path, [_line(i, b) for i, b in enumerate(bodies)], leaves, True)
    monkeypatch.setattr(pack_helper, "MIN_BYTES", 0)
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "2")
    files = PackFiles(path)
    pack_helper.prepare(files, pf.EVIDENCE)
    pack_helper.prepare(files, "no-such-member")  # nothing to start
    helper = pack_helper._prepared[(id(files), pf.EVIDENCE)]
    assert len(pack_helper._prepared) == 1
    pack_helper.discard(files)
    files.close()
    assert not pack_helper._prepared
    assert helper._proc.poll() is not None  # stopped and collected


def test_a_helper_never_told_the_rules_answers_nothing(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / pf.EVIDENCE).write_bytes(b"")
    stdin, stdout = io.BytesIO(), io.BytesIO()
    child.send(stdin, (str(tmp_path / "pack"), pf.EVIDENCE, 0))
    stdin.seek(0)
    assert pack_helper._main(stdin, stdout) == 0
    assert stdout.getvalue() == b""


def test_frames() -> None:
    stream = io.BytesIO()
    child.send(stream, ("a", 1, b"\x00" * 3))
    child.send(stream, [1, 2])
    data = stream.getvalue()
    stream.seek(0)
    assert child.receive(stream) == ("a", 1, b"\x00" * 3)
    assert child.receive(stream) == [1, 2]
    first = data[: 8 + int.from_bytes(data[:8], "little")]
    for cut in (0, 5, 8, len(first) - 1):  # inside its length, or inside the message
        with pytest.raises(EOFError):
            child.receive(io.BytesIO(first[:cut]))
