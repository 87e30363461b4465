"""``manifest.json`` (SHA-256 of every file) and its ES256 JWS, ``manifest.jws``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws

from edgeaudit.canonical import canonical_json
from edgeaudit.verify.pack_format import ALGORITHMS, JWS_TYPE, REPORT
from edgeaudit.verify.pack_key import ManifestKey


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "size": size}


def list_files(root: Path, names: list[str]) -> list[dict[str, Any]]:
    return [{"path": name, **file_digest(root / name)} for name in sorted(names)]


def content_manifest(header: Mapping[str, Any], files: list[dict[str, Any]]) -> bytes:
    """The manifest of everything but the PDF: attached to the PDF, its digest on the cover."""
    listed = sorted((f for f in files if f["path"] != REPORT), key=lambda f: str(f["path"]))
    return canonical_json({**header, "files": listed})


def evidence_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def manifest_bytes(
    header: Mapping[str, Any], files: list[dict[str, Any]], key: ManifestKey
) -> bytes:
    content = content_manifest(header, files)
    return canonical_json(
        {
            **header,
            "files": files,
            "evidence_digest": evidence_digest(content),
            "manifest_key": key.kid,
        }
    )


def sign_manifest(payload: bytes, private: ec.EllipticCurvePrivateKey, key: ManifestKey) -> bytes:
    token = jws.sign(
        payload, private, headers={"kid": key.kid, "typ": JWS_TYPE}, algorithm=ALGORITHMS[0]
    )
    return token.encode("ascii") if isinstance(token, str) else bytes(token)
