"""The two attackers of the tamper suite: an outsider editing bytes, and an insider holding the
manifest key (not the log key) who re-signs the manifest after the edit."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from edgeaudit.canonical import canonical_json
from edgeaudit.pack.manifest import list_files, manifest_bytes, sign_manifest
from edgeaudit.verify import pack_format as pf
from edgeaudit.workspace import config as cfg
from edgeaudit.workspace.manifest_key import manifest_signing_key
from tests.pack.conftest import Site, verify


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def edit_line(path: Path, number: int, change) -> None:  # type: ignore[no-untyped-def]
    ls = lines(path)
    rec = json.loads(ls[number - 1])
    change(rec)
    ls[number - 1] = canonical_json(rec) + b"\n"
    path.write_bytes(b"".join(ls))


def resign(
    site: Site, pack: Path, names: list[str] | None = None, **header_changes: object
) -> None:
    """The insider: recompute every file hash (of ``names``, default the listed files) and
    re-sign the manifest with the real key."""
    manifest = json.loads((pack / pf.MANIFEST).read_text())
    if names is None:
        names = [f["path"] for f in manifest["files"]]
    header = {
        k: v for k, v in manifest.items() if k not in ("files", "evidence_digest", "manifest_key")
    }
    header.update(header_changes)
    with manifest_signing_key(cfg.load(site.ws)) as (private, public):
        payload = manifest_bytes(header, list_files(pack, names), public)
        (pack / pf.MANIFEST).write_bytes(payload)
        (pack / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))


def failed(site: Site, pack: Path, *extra: str) -> str:
    code, out, err = verify(site, pack, *extra)
    assert code == 1, out + err
    assert out.startswith("FAILED"), out
    return out


def passed(site: Site, pack: Path, *extra: str) -> str:
    code, out, err = verify(site, pack, *extra)
    assert code == 0, out + err
    return out


def zip_dir(src: Path, out: Path, members: list[tuple[str, Any]] | None = None) -> Path:
    """``src``'s files as a zip (deflated), plus ``members`` (name or ZipInfo, bytes)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.iterdir()):
            zf.write(p, p.name)
        for info, data in members or []:
            zf.writestr(info, data)
    return out
