"""Key separation: ``pack build --checkpoint FILE`` builds a pack on a host without the log's
private key, from a checkpoint note signed where that key is (``checkpoint sign --out FILE``);
a note by another key, or over other entries than this store's, is refused (exit 2, nothing
written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import log_signer
from tests.pack.conftest import Site, verify
from tests.pack.helpers import QUARTER, run


@pytest.fixture
def hosts(site: Site, tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the workspace: the signer host keeps the log key, the builder has none."""
    signer, builder = tmp_path / "signer", tmp_path / "builder"
    shutil.copytree(site.ws, signer)
    shutil.copytree(site.ws, builder)
    cfg.load(builder).private_key.unlink()
    return signer, builder


def _build(site: Site, builder: Path, note: Path, out: Path) -> tuple[int, str, str]:
    return run(
        "--workspace", str(builder), "pack", "build", "--quarter", QUARTER,
        "--findings", str(site.findings), "--inventory", str(site.inventory),
        "--no-pdf", "--checkpoint", str(note), "--out", str(out),
    )  # fmt: skip


def test_a_pack_built_without_the_log_key_verifies(
    site: Site, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    signer, builder = hosts
    note = tmp_path / "signed.checkpoint"
    code, _, err = run("--workspace", str(signer), "checkpoint", "sign", "--out", str(note))
    assert code == 0, err
    out = tmp_path / "pack"
    code, _, err = _build(site, builder, note, out)
    assert code == 0, err
    assert not cfg.load(builder).private_key.exists()
    assert (out / pf.CHECKPOINT).read_bytes() == note.read_bytes()
    signed = Checkpoint.parse(note.read_bytes().split(b"\n\n")[0] + b"\n")
    assert json.loads((out / pf.MANIFEST).read_text())["checkpoint"]["tree_size"] == signed.size
    code, text, _ = verify(site, out)
    assert code == 0, text


def test_without_the_note_the_builder_cannot_sign(
    site: Site, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    _, builder = hosts
    code, _, err = run(
        "--workspace", str(builder), "pack", "build", "--quarter", QUARTER,
        "--findings", str(site.findings), "--no-pdf", "--out", str(tmp_path / "p"),
    )  # fmt: skip
    assert code == 2
    assert "missing" in err
    assert not (tmp_path / "p").exists()


def test_a_note_by_another_key_is_refused(
    site: Site, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    signer, builder = hosts
    note = tmp_path / "impostor.checkpoint"
    assert run("--workspace", str(signer), "checkpoint", "sign", "--out", str(note))[0] == 0
    # the tree the store really has, signed by an impostor of the log key's name
    latest = Checkpoint.parse(note.read_bytes().split(b"\n\n")[0] + b"\n")
    note.write_bytes(generate(cfg.load(builder).origin).sign_checkpoint(latest))
    code, _, err = _build(site, builder, note, tmp_path / "pack")
    assert code == 2
    assert "does not verify with the log's public key" in err
    assert not (tmp_path / "pack").exists()


def test_a_note_over_other_entries_is_refused(
    site: Site, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    signer, builder = hosts
    config = cfg.load(signer)
    size = json.loads(run("--workspace", str(signer), "--json", "checkpoint", "sign")[1])[
        "tree_size"
    ]
    with log_signer(config) as key:  # the real log key, over a root this store does not have
        forged = key.sign_checkpoint(Checkpoint(config.origin, size, b"\x07" * 32))
    note = tmp_path / "forged.checkpoint"
    note.write_bytes(forged)
    code, _, err = _build(site, builder, note, tmp_path / "pack")
    assert code == 2
    assert f"tree at size {size} has root" in err
    assert "split view" in err
    # signed on a store that grew since: beyond this one's entries
    more = tmp_path / "more.jsonl"
    more.write_text(
        '{"time":"2026-08-01T00:00:00Z","kind":"physical.access","source":"door:x",'
        '"actor":{"principal":"ravi.k","org":"operator"},"outcome":"granted"}\n'
    )
    assert run("--workspace", str(signer), "append", str(more))[0] == 0
    assert run("--workspace", str(signer), "checkpoint", "sign", "--out", str(note))[0] == 0
    code, _, err = _build(site, builder, note, tmp_path / "pack")
    assert code == 2
    assert "has not caught up" in err
    assert not (tmp_path / "pack").exists()
