"""`pack build` refuses bad input with exit 2 and a message naming the option, file or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pack.conftest import Site
from tests.pack.helpers import QUARTER, run


def build(site: Site, *argv: str) -> tuple[int, str]:
    code, _, err = run(*site.args(), "pack", "build", *argv)
    return code, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--quarter", "2026Q5", "--out", "x"], "--quarter '2026Q5': expected a quarter"),
        (["--quarter", QUARTER, "--from", "2026-07-01", "--out", "x"], "not both"),
        (["--from", "2026-07-01", "--out", "x"], "needs --quarter 2026Q3 or both"),
        (["--quarter", QUARTER], "needs --out"),
        (["--from", "2026-07-01T00:00:00.5Z", "--to", "2026-08-01", "--out", "x"], "whole seconds"),
        (["--from", "2026-08-01", "--to", "2026-07-01", "--out", "x"], "must end after"),
    ],
)
def test_period_and_output_errors(site: Site, argv: list[str], message: str) -> None:
    code, err = build(site, *argv)
    assert code == 2
    assert message in err


def test_tenant_needs_a_known_tenant(site: Site, tmp_path: Path) -> None:
    code, err = build(
        site, "--quarter", QUARTER, "--tenant", "nobody", "--inventory", str(site.inventory),
        "--out", str(tmp_path / "p"),
    )  # fmt: skip
    assert code == 2
    assert "--tenant 'nobody' is not a tenant of the inventory" in err
    assert not (tmp_path / "p").exists()


def test_malformed_findings_name_the_field(site: Site, tmp_path: Path) -> None:
    doc = json.loads(site.findings.read_text())
    doc["results"][2]["evidence"][0]["leaf_hash"] = "xyz"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, err = build(
        site, "--quarter", QUARTER, "--findings", str(bad), "--out", str(tmp_path / "p")
    )
    assert code == 2
    assert "results[2].evidence[0].leaf_hash is not 64 hex digits" in err
    bad.write_text("{not json")
    code, err = build(
        site, "--quarter", QUARTER, "--findings", str(bad), "--out", str(tmp_path / "p")
    )
    assert code == 2
    assert f"{bad}: not JSON" in err


def test_existing_output_is_not_overwritten(site: Site, site_pack: Path) -> None:
    code, err = build(site, "--quarter", QUARTER, "--out", str(site_pack))
    assert code == 2
    assert "already exists; refusing to overwrite a pack" in err


def test_previous_checkpoint_must_verify(site: Site, site_pack: Path, tmp_path: Path) -> None:
    from edgeaudit.note.checkpoint import Checkpoint
    from edgeaudit.note.signer import generate

    origin = (site_pack / "checkpoint").read_text().splitlines()[0]
    forged = tmp_path / "forged-checkpoint"
    forged.write_bytes(generate(origin).sign_checkpoint(Checkpoint(origin, 3, b"\x00" * 32)))
    code, err = build(
        site, "--quarter", QUARTER, "--previous", str(forged), "--out", str(tmp_path / "p")
    )
    assert code == 2
    assert "the previous pack's checkpoint does not verify" in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["key", "--checkpoint", "note"], "pack key does not use --checkpoint"),
        (
            ["key", "--previous", "cp", "--tenant", "x"],
            "pack key does not use --tenant, --previous",
        ),
        (["rotate-key", "--quarter", QUARTER], "pack rotate-key does not use --quarter"),
        (["rotate-key", "--jwk"], "pack rotate-key does not use --jwk"),
        (["build", "--quarter", QUARTER, "--out", "x", "--jwk"], "pack build does not use --jwk"),
    ],
)
def test_an_option_the_action_does_not_read_is_refused(
    site: Site, tmp_path: Path, argv: list[str], message: str
) -> None:
    before = sorted(p.name for p in site.ws.rglob("*"))
    code, out, err = run(*site.args(), "pack", *argv)
    assert code == 2
    assert message in err
    assert out == ""
    assert sorted(p.name for p in site.ws.rglob("*")) == before  # nothing written, no key made
