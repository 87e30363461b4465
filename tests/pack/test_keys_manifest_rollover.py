"""Manifest key rollover: ``pack rotate-key`` makes a new manifest key and a rollover statement
signed by the previous and the new key; ``verify PACK --manifest-key OLD --manifest-rollover
FILE`` follows it. The previous key's packs up to the rollover size still verify; a pack beyond
it signed by the previous key (an insider still holding it), a pack of the new key without the
statement, and a forged statement (signed by the new key only) fail."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jose import jws

from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key
from tests.pack.conftest import Site, verify
from tests.pack.helpers import QUARTER, run
from tests.pack.tampering import resign

EVENT = (
    '{"time":"2026-08-03T00:00:00Z","kind":"physical.access","source":"door:m",'
    '"actor":{"principal":"ravi.k","org":"operator"},"outcome":"granted"}\n'
)


@pytest.fixture
def rolled(site: Site, tmp_path: Path) -> tuple[Site, Path, Path, Path]:
    """A copy of the site whose manifest key rolled over; a pack before and one after."""
    ws = tmp_path / "ws"
    shutil.copytree(site.ws, ws)
    copy = Site(ws, site.campus, site.inventory, site.vkey, site.mkey, site.findings, site.doc,
                tmp_path)  # fmt: skip
    before = _build(copy, tmp_path / "before")
    statement = tmp_path / "rollover.jws"
    code, _, err = run("--workspace", str(ws), "pack", "rotate-key", "--out", str(statement))
    assert code == 0, err
    more = tmp_path / "more.jsonl"
    more.write_text(EVENT)
    assert run("--workspace", str(ws), "append", str(more))[0] == 0
    after = _build(copy, tmp_path / "after")
    return copy, before, after, statement


def _build(site: Site, out: Path) -> Path:
    code, _, err = run(
        *site.args(), "pack", "build", "--quarter", QUARTER, "--findings", str(site.findings),
        "--inventory", str(site.inventory), "--no-pdf", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    return out


def test_the_rollover_is_followed(rolled: tuple[Site, Path, Path, Path]) -> None:
    site, before, after, statement = rolled
    for pack in (before, after):  # site.mkey is the previous key
        code, out, _ = verify(site, pack, "--manifest-rollover", str(statement))
        assert code == 0, out
    code, out, _ = verify(site, after)
    assert code == 1
    assert "expected the trusted manifest key" in out
    # the workspace's public key is now the new one
    code, out, _ = run(*site.args(), "verify", str(after), "--key", str(site.vkey))
    assert code == 0, out


def test_the_previous_key_signs_nothing_beyond_the_rollover(
    rolled: tuple[Site, Path, Path, Path],
) -> None:
    site, _, after, statement = rolled
    config = cfg.load(site.ws)
    retired = next(config.root.glob("keys/manifest-*.retired.key"))
    current = config.root / "keys" / "manifest.key"
    current.rename(current.with_suffix(".new"))  # the insider signs with the key they kept
    retired.rename(current)
    try:
        resign(site, after)
    finally:
        current.rename(retired)
        current.with_suffix(".new").rename(current)
    code, out, _ = verify(site, after, "--manifest-rollover", str(statement))
    assert code == 1
    assert "was replaced by the rollover at tree size" in out


def test_a_rollover_signed_by_the_new_key_only_is_not_followed(
    rolled: tuple[Site, Path, Path, Path], tmp_path: Path
) -> None:
    site, _, after, statement = rolled
    first, second = statement.read_text().splitlines()
    payload = jws.get_unverified_claims(second)
    header = jws.get_unverified_header(first)  # the previous key's kid, the new key's signature
    with manifest_signing_key(cfg.load(site.ws)) as (private, _):
        forged = jws.sign(payload, private, headers=header, algorithm="ES256")
    bad = tmp_path / "forged.jws"
    bad.write_text(f"{forged}\n{second}\n")
    code, out, _ = verify(site, after, "--manifest-rollover", str(bad))
    assert code == 1
    assert "rollover at tree size" in out
    assert "not followed" in out
    assert f"{pf.MANIFEST_JWS}: signed by key id" in out
    bad.write_text("not a statement\n")
    code, _, err = verify(site, after, "--manifest-rollover", str(bad))
    assert code == 2
    assert "rollover statement is two JWS lines" in err
