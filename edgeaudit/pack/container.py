"""The pack's container, shared by the single-log and the campus builders: where the files are
written (a directory, or a work directory zipped at the end), the report's attachments, the
signed manifest over every file, the zip."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeaudit.errors import InputError
from edgeaudit.pack.manifest import manifest_bytes, sign_manifest
from edgeaudit.verify import pack_format as pf

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

    from edgeaudit.verify.pack_key import ManifestKey

_ATTACHED = (
    (pf.FINDINGS_CSV, "the results as CSV (findings.csv)"),
    (pf.OSCAL, "the results as OSCAL assessment results"),
)


def prepare_out(out: Path) -> tuple[Path, bool]:
    """(directory to write into, whether to zip it afterwards)."""
    zipped = out.suffix.lower() == ".zip"
    if out.exists() and (zipped or any(out.iterdir())):
        raise InputError(f"{out} already exists; refusing to overwrite a pack")
    if zipped:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".pack-", dir=out.parent)), True
    out.mkdir(parents=True, exist_ok=True)
    return out, False


def attachments(work: Path, names: list[str]) -> list[tuple[str, bytes, str]]:
    """The machine-readable results the PDF carries as attachments (those the pack has)."""
    return [(n, (work / n).read_bytes(), what) for n, what in _ATTACHED if n in names]


def seal(
    work: Path,
    header: dict[str, Any],
    listed: list[dict[str, Any]],
    private: ec.EllipticCurvePrivateKey,
    public: ManifestKey,
) -> list[dict[str, Any]]:
    """Write ``manifest.json`` over every listed file (sorted by path) and its JWS; the list."""
    files = sorted(listed, key=lambda f: str(f["path"]))
    payload = manifest_bytes(header, files, public)
    (work / pf.MANIFEST).write_bytes(payload)
    (work / pf.MANIFEST_JWS).write_bytes(sign_manifest(payload, private, public))
    return files


def zip_pack(work: Path, names: list[str], out: Path) -> None:
    """``out`` as a zip of the pack's files and its manifest, written beside it and renamed."""
    tmp_zip = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in [*names, pf.MANIFEST, pf.MANIFEST_JWS]:
            zf.write(work / name, name)
    tmp_zip.replace(out)


def discard(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
