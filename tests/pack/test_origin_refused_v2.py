"""ADR 0018, fail closed: only a campus pack (``edgeaudit-pack/3``) cites entries by origin. A
/2 pack whose citation or record has an ``origin`` member, or whose manifest has ``logs``, is
refused, even re-signed by the insider with the manifest key: no legitimate one has them, and
reading such a reference as an index of the pack's one log could pass an entry of another."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgeaudit.canonical import canonical_json
from edgeaudit.verify import pack_format as pf
from tests.pack.conftest import Site
from tests.pack.tampering import failed, passed, resign


def _findings(pack: Path) -> dict:  # type: ignore[type-arg]
    return dict(json.loads((pack / pf.FINDINGS_JSON).read_text()))


def test_an_origin_member_in_a_v2_pack_is_refused(
    site: Site, site_pack: Path, tmp_path: Path
) -> None:
    passed(site, site_pack)
    for where in ("evidence", "record"):
        pack = Path(shutil.copytree(site_pack, tmp_path / where))
        doc = _findings(pack)
        i = next(i for i, r in enumerate(doc["results"]) if r["evidence"])
        origin = json.loads((pack / pf.MANIFEST).read_text())["origin"]
        if where == "evidence":
            doc["results"][i]["evidence"][0]["origin"] = origin
        else:
            doc["results"][i]["record"]["origin"] = origin
        (pack / pf.FINDINGS_JSON).write_bytes(canonical_json(doc))
        resign(site, pack)  # the insider: every hash and the signature are right
        out = failed(site, pack)
        rid = doc["results"][i]["id"]
        part = "evidence[0]" if where == "evidence" else "record"
        assert f"results[{i}] ({rid}) {part} has an origin member" in out, out
        assert "only a campus pack (edgeaudit-pack/3) cites entries by origin" in out


def test_a_v2_manifest_with_logs_is_refused(site: Site, site_pack: Path, tmp_path: Path) -> None:
    pack = Path(shutil.copytree(site_pack, tmp_path / "logs"))
    resign(site, pack, logs=[])
    out = failed(site, pack)
    assert "a edgeaudit-pack/2 manifest has logs: only a campus pack" in out


def test_a_v2_pack_relabelled_v3_is_refused(site: Site, site_pack: Path, tmp_path: Path) -> None:
    pack = Path(shutil.copytree(site_pack, tmp_path / "v3"))
    resign(site, pack, format=pf.FORMAT_V3)
    out = failed(site, pack)
    assert "logs is NoneType, a edgeaudit-pack/3 pack lists its parts" in out
