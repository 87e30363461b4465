"""Kept checkpoints: ``verify PACK --trusted-checkpoint FILE``. The pack must be at or beyond
the checkpoint the auditor kept and prove, from exactly that checkpoint, that the log only grew;
a rollback to an older pack, a proof from an older checkpoint only, and a split view fail."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from edgeaudit.note.checkpoint import Checkpoint
from edgeaudit.note.signer import generate
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.keys import log_signer
from tests.pack.conftest import Site, verify
from tests.pack.helpers import QUARTER, copy_pack, run
from tests.pack.tampering import failed, lines, passed, resign


@pytest.fixture
def tpack(tenant_pack: Path, tmp_path: Path) -> Path:
    return copy_pack(tenant_pack, tmp_path / "tpack")


@pytest.fixture(scope="module")
def later_pack(site: Site, tenant_pack: Path) -> Path:
    """A third pack, after the log grew again: it proves from the site pack's checkpoint and
    from the tenant pack's (the previous one)."""
    more = site.packs.parent / "later.jsonl"
    more.write_text(
        '{"time":"2026-12-01T00:00:00Z","kind":"physical.access","source":"door:later",'
        '"actor":{"principal":"ravi.k","org":"operator"},"outcome":"granted"}\n'
    )
    assert run(*site.args(), "append", str(more))[0] == 0
    out = site.packs / "later"
    code, _, err = run(
        *site.args(), "pack", "build", "--quarter", QUARTER, "--no-pdf", "--out", str(out)
    )
    assert code == 0, err
    return out


def _kept(pack: Path, tmp_path: Path) -> Path:
    """What the auditor keeps after verifying a pack: its checkpoint file."""
    kept = tmp_path / "kept.checkpoint"
    kept.write_bytes((pack / pf.CHECKPOINT).read_bytes())
    return kept


def _size(pack: Path) -> int:
    return int(json.loads((pack / pf.MANIFEST).read_text())["checkpoint"]["tree_size"])


def test_a_later_pack_extends_the_kept_checkpoint(
    site: Site, site_pack: Path, tenant_pack: Path, tmp_path: Path
) -> None:
    kept = _kept(site_pack, tmp_path)
    out = passed(site, tenant_pack, "--trusted-checkpoint", str(kept))
    assert f"extends your kept checkpoint of size {_size(site_pack)}" in out
    # consistency.jsonl proves from every earlier checkpoint the log signed, the site pack's too
    sizes = [json.loads(r)["old_size"] for r in lines(tenant_pack / pf.CONSISTENCY_LOG)]
    assert _size(site_pack) in sizes
    assert sizes == sorted(set(sizes))
    assert all(0 < s < _size(tenant_pack) for s in sizes)


def test_the_same_pack_matches_its_own_kept_checkpoint(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    passed(site, site_pack, "--trusted-checkpoint", str(_kept(site_pack, tmp_path)))


def test_a_zip_pack_extends_the_kept_checkpoint(
    site: Site, site_pack: Path, tenant_pack_zip: Path, tmp_path: Path
) -> None:
    passed(site, tenant_pack_zip, "--trusted-checkpoint", str(_kept(site_pack, tmp_path)))


def test_rollback_to_an_older_pack_fails(
    site: Site, site_pack: Path, tenant_pack: Path, tmp_path: Path
) -> None:
    out = failed(site, site_pack, "--trusted-checkpoint", str(_kept(tenant_pack, tmp_path)))
    assert (
        f"--trusted-checkpoint: rollback: the pack's checkpoint has size {_size(site_pack)}, "
        f"older than the kept checkpoint of size {_size(tenant_pack)}"
    ) in out


@pytest.mark.parametrize("insider", [False, True])
def test_a_proof_from_an_older_checkpoint_only_fails(
    site: Site, site_pack: Path, tenant_pack: Path, later_pack: Path, tmp_path: Path, insider: bool
) -> None:
    """The auditor kept the tenant pack's checkpoint; the later pack's proofs from it are
    removed, the one from the (older) site pack's checkpoint stays."""
    pack = copy_pack(later_pack, tmp_path / "later")
    kept_size = _size(tenant_pack)
    passed(site, pack, "--trusted-checkpoint", str(_kept(tenant_pack, tmp_path)))
    older = [r for r in lines(pack / pf.CONSISTENCY_LOG) if json.loads(r)["old_size"] < kept_size]
    assert _size(site_pack) in [json.loads(r)["old_size"] for r in older]
    (pack / pf.CONSISTENCY_LOG).write_bytes(b"".join(older))
    (pack / pf.CONSISTENCY).unlink()
    if insider:
        manifest = json.loads((pack / pf.MANIFEST).read_text())
        resign(site, pack, [f["path"] for f in manifest["files"] if f["path"] != pf.CONSISTENCY])
    out = failed(site, pack, "--trusted-checkpoint", str(_kept(tenant_pack, tmp_path)))
    if insider:
        assert "SHA-256" not in out
        assert (
            f"--trusted-checkpoint: the pack carries no consistency proof from the kept "
            f"checkpoint of size {kept_size} (it proves from sizes: "
        ) in out
    else:
        assert "consistency.jsonl: SHA-256 is" in out
    # the same pack still extends the older checkpoint it does prove from
    if insider:
        passed(site, pack, "--trusted-checkpoint", str(_kept(site_pack, tmp_path)))


def test_a_split_view_fails(site: Site, site_pack: Path, tenant_pack: Path, tmp_path: Path) -> None:
    """The log key's holder showed the auditor another tree of the site pack's size."""
    config = cfg.load(site.ws)
    fork = tmp_path / "fork.checkpoint"
    with log_signer(config) as signer:
        fork.write_bytes(
            signer.sign_checkpoint(Checkpoint(config.origin, _size(site_pack), b"\x07" * 32))
        )
    out = failed(site, tenant_pack, "--trusted-checkpoint", str(fork))
    assert f"split view: the pack proves growth from a checkpoint of size {_size(site_pack)}" in out
    out = failed(site, site_pack, "--trusted-checkpoint", str(fork))
    assert "split view: the pack's checkpoint and the kept one both have size" in out


def test_an_altered_proof_from_an_earlier_checkpoint_fails(site: Site, tpack: Path) -> None:
    ls = lines(tpack / pf.CONSISTENCY_LOG)
    doc = json.loads(ls[-1])
    doc["proof"][0] = base64.b64encode(b"\x01" * 32).decode()
    from edgeaudit.canonical import canonical_json

    ls[-1] = canonical_json(doc) + b"\n"
    (tpack / pf.CONSISTENCY_LOG).write_bytes(b"".join(ls))
    resign(site, tpack)
    out = failed(site, tpack)
    assert f"consistency.jsonl:{len(ls)}: from the checkpoint of size {doc['old_size']}" in out


def test_a_kept_checkpoint_of_another_key_is_a_usage_error(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    origin = (site_pack / pf.CHECKPOINT).read_text().splitlines()[0]
    other = tmp_path / "other.checkpoint"
    other.write_bytes(generate(origin).sign_checkpoint(Checkpoint(origin, 3, b"\x00" * 32)))
    code, _, err = verify(site, site_pack, "--trusted-checkpoint", str(other))
    assert code == 2
    assert "the kept checkpoint does not verify with the log key" in err
    code, _, err = verify(site, site_pack, "--trusted-checkpoint", str(tmp_path / "missing"))
    assert code == 2
    assert "cannot read the kept checkpoint" in err
