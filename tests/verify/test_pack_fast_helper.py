"""The helper process of ``verify PACK`` (edgeaudit.verify.pack_helper) and the pieces the
evidence file is read in: the same report with and without a helper, for a clean evidence file
and for one with a problem in the helper's half (which the caller then checks itself), from a
directory and from a zip; and the split of a file into pieces loses no byte and no line."""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest

from edgeaudit.canonical import canonical_json
from edgeaudit.pack.tree import LevelTree
from edgeaudit.verify import pack_files, pack_helper
from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_entries import Cited, check_entries
from edgeaudit.verify.pack_files import PackFiles, PackReport, chunks, tail_chunks

N = 3000
START = 1_700_000_000
PERIOD = {"from": "2023-11-14T22:13:20Z", "to": "2023-11-15T22:13:20Z"}


def _bodies() -> list[bytes]:
    return [
        canonical_json(
            {
                "kind": "auth.logon",
                "time": f"2023-11-14T23:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "tenant": "fintech-a",
                "port": 40000 + i,
                "actor": {"principal": f"user{i}", "session": f"s{i}"},
            }
        )
        for i in range(N)
    ]


def _line(index: int, body: bytes) -> bytes:
    leaf = hashlib.sha256(b"\x00" + body).hexdigest()
    return b'{"entry":"%s","index":%d,"leaf_hash":"%s"}\n' % (
        base64.b64encode(body),
        index,
        leaf.encode(),
    )


def _pack(tmp: Path, lines: list[bytes], leaves: list[bytes], zipped: bool) -> tuple[Path, bytes]:
    tree = LevelTree()
    tree.extend(leaves)
    root = tree.freeze()
    proof = tree.multiproof(list(range(len(leaves))))
    files = {pf.EVIDENCE: b"".join(lines), pf.PROOFS: pf.multiproof_line(proof)}
    if zipped:
        path = tmp / "pack.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        path = tmp / "pack"
        path.mkdir()
        for name, data in files.items():
            (path / name).write_bytes(data)
    return path, root


def _verify(path: Path, root: bytes, leaves: list[bytes]) -> tuple[list[str], int, dict[int, str]]:
    size = len(leaves)
    manifest: dict[str, Any] = {
        "format": pf.FORMAT,
        "tenant": None,
        "period": PERIOD,
        "entries": size,
        "redacted": 0,
    }
    cited = Cited(refs={i: [(f"R-{i}", leaves[i].hex())] for i in (7, size - 5)})
    report = PackReport(str(path))
    files = PackFiles(path)
    try:
        check_entries(files, manifest, size, root, cited, report)
    finally:
        files.close()
    return [str(p) for p in report.problems], report.entries, cited.present


def _tamper(kind: str, lines: list[bytes], bodies: list[bytes]) -> None:
    at = N * 3 // 4  # in the helper's half
    if kind == "float":
        lines[at] = _line(at, bodies[at].replace(b'"port":', b'"port":1.0,"q":', 1))
    elif kind == "order":
        lines[at], lines[at + 1] = lines[at + 1], lines[at]
    elif kind == "space":
        lines[at] = lines[at].replace(b'","index"', b'", "index"')


@pytest.mark.parametrize(
    ("zipped", "kind"), [(False, None), (True, None), (False, "float"), (True, "order")]
)
def test_the_same_report_with_a_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zipped: bool, kind: str | None
) -> None:
    bodies = _bodies()
    lines = [_line(i, b) for i, b in enumerate(bodies)]
    leaves = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    if kind is not None:
        _tamper(kind, lines, bodies)
    path, root = _pack(tmp_path, lines, leaves, zipped)
    monkeypatch.setattr(pack_files, "CHUNK_BYTES", 64 << 10)  # many pieces
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "1")
    alone = _verify(path, root, leaves)
    answers: list[object] = []
    answer = pack_helper.Helper.answer

    def spy(self: pack_helper.Helper) -> object:
        answers.append(result := answer(self))
        return result

    monkeypatch.setattr(pack_helper.Helper, "answer", spy)
    monkeypatch.setattr(pack_helper, "MIN_BYTES", 0)
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "2")
    helped = _verify(path, root, leaves)
    assert helped == alone
    assert len(answers) == 1  # a helper ran, and answered ...
    assert (answers[0] is not None) == (kind is None)  # ... ok only for a clean half
    problems, entries, present = alone
    if kind is None:
        assert problems == []
        assert entries == N
        assert sorted(present) == [7, N - 5]
    else:
        assert problems
        if kind == "float":  # a leaf the tree does not hold: the one proof fails as a whole
            assert any(f"0..{N - 1}, are proven together or not at all" in p for p in problems)
        at = N * 3 // 4  # the tampered line's number, or the next one's (out of order)
        assert problems[0].split()[0] in (f"evidence.jsonl:{at + 1}", f"evidence.jsonl:{at + 2}")


def test_no_helper_unless_worth_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "1")
    assert not pack_helper.worth_a_helper(1 << 30)
    monkeypatch.setenv(pack_helper.WORKERS_ENV, "2")
    assert pack_helper.worth_a_helper(pack_helper.MIN_BYTES)
    assert not pack_helper.worth_a_helper(pack_helper.MIN_BYTES - 1)
    monkeypatch.delenv(pack_helper.WORKERS_ENV)
    monkeypatch.setattr(pack_helper.os, "cpu_count", lambda: 1)
    assert not pack_helper.worth_a_helper(1 << 30)  # one CPU: it would only add its cost


@pytest.mark.parametrize("zipped", [False, True])
def test_pieces_lose_nothing(tmp_path: Path, zipped: bool) -> None:
    rng = random.Random(7)
    for trial in range(300):
        data = bytes(rng.choice(b"ab\n") for _ in range(rng.randint(0, 60)))
        where = tmp_path / f"{trial}"
        where.mkdir()
        if zipped:
            pack = where / "p.zip"
            with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("f", data)
        else:
            pack = where
            (where / "f").write_bytes(data)
        files = PackFiles(pack)
        size, split = rng.randint(1, 8), rng.randint(1, len(data) + 2)
        before, after, marked = b"", b"", False
        for number, piece in chunks(files, "f", split, size):
            if piece is None:
                marked = True
                assert number == before.count(b"\n") + 1
                continue
            assert number == (before + after).count(b"\n") + 1
            if marked:
                after += piece
            else:
                before += piece
        assert before + after == data
        cut = data.find(b"\n", split - 1)
        tail = list(tail_chunks(files, "f", split, size))
        if cut < 0:
            assert not marked
            assert tail == []
        else:
            assert marked
            assert before == data[: cut + 1]
            assert b"".join(tail) == data[cut + 1 :]
            assert all(piece.endswith(b"\n") for piece in tail[:-1])
        files.close()
