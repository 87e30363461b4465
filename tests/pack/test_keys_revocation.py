"""Revocation: a compromised key declared revoked as of a tree size (``verify --revoked
KEYID@SIZE``, or a file of such lines). What it signed up to that size still counts; a
checkpoint (log key) or a manifest (manifest key) beyond it is refused, by ``verify`` and by
``verify PACK``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgeaudit.verify import pack_format as pf
from edgeaudit.verify.pack_key import ManifestKey
from tests.pack.conftest import Site, verify
from tests.pack.helpers import run

EVENT = (
    '{{"time":"2026-08-0{day}T00:00:00Z","kind":"physical.access","source":"door:r",'
    '"actor":{{"principal":"ravi.k","org":"operator"}},"outcome":"granted"}}\n'
)


def _log_key_id(site: Site) -> str:
    return site.vkey.read_text().strip().split("+")[1]


def _size(pack: Path) -> int:
    return int(json.loads((pack / pf.MANIFEST).read_text())["checkpoint"]["tree_size"])


@pytest.fixture
def ws(site: Site, tmp_path: Path) -> tuple[Path, int, int]:
    """A copy of the workspace with two checkpoints, of sizes s1 < s2."""
    ws = tmp_path / "ws"
    shutil.copytree(site.ws, ws)
    sizes = []
    for day in (1, 2):
        more = tmp_path / f"more{day}.jsonl"
        more.write_text(EVENT.format(day=day))
        assert run("--workspace", str(ws), "append", str(more))[0] == 0
        code, out, err = run("--workspace", str(ws), "--json", "checkpoint", "sign")
        assert code == 0, err
        sizes.append(json.loads(out)["tree_size"])
    return ws, sizes[0], sizes[1]


def test_the_store_refuses_checkpoints_beyond_the_revocation(
    site: Site, ws: tuple[Path, int, int]
) -> None:
    root, s1, s2 = ws
    kid = _log_key_id(site)
    code, out, _ = run("--workspace", str(root), "verify", "--revoked", f"{kid}@{s2}")
    assert code == 0, out
    code, out, _ = run("--workspace", str(root), "verify", "--revoked", f"{kid}@{s1}")
    assert code == 1
    assert f"checkpoint of size {s2}" in out
    assert f"revoked as of size {s1}" in out
    assert f"checkpoint of size {s1}:" not in out  # signed before the revocation: still good


def test_a_revocation_file_and_the_label_form(
    site: Site, ws: tuple[Path, int, int], tmp_path: Path
) -> None:
    root, s1, _ = ws
    label = "+".join(site.vkey.read_text().strip().split("+")[:2])
    listed = tmp_path / "revoked.txt"
    listed.write_text(f"# keys revoked by the site's security officer\n{label}@{s1}  # stolen\n")
    code, out, _ = run("--workspace", str(root), "verify", "--revoked", str(listed))
    assert code == 1
    assert f"revoked as of size {s1}" in out
    listed.write_text("not a revocation\n")
    code, _, err = run("--workspace", str(root), "verify", "--revoked", str(listed))
    assert code == 2
    assert f"{listed}:1" in err


def test_a_pack_signed_beyond_a_revoked_log_key(site: Site, site_pack: Path) -> None:
    size, kid = _size(site_pack), _log_key_id(site)
    code, out, _ = verify(site, site_pack, "--revoked", f"{kid}@{size}")
    assert code == 0, out
    code, out, _ = verify(site, site_pack, "--revoked", f"{kid}@{size - 1}")
    assert code == 1
    assert f"{pf.CHECKPOINT}: checkpoint of size {size}" in out
    assert f"revoked as of size {size - 1}" in out


def test_a_pack_signed_by_a_revoked_manifest_key(site: Site, site_pack: Path) -> None:
    size, kid = _size(site_pack), ManifestKey.load(str(site.mkey)).kid
    code, out, _ = verify(site, site_pack, "--revoked", f"{kid}@{size}")
    assert code == 0, out
    code, out, _ = verify(site, site_pack, "--revoked", f"{kid}@{size - 1}")
    assert code == 1
    assert f"signed by manifest key {kid}, revoked as of tree size {size - 1}" in out
