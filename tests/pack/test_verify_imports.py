"""`edgeaudit verify PACK` runs without the database layer, signing code or the PDF renderer:
in a fresh interpreter where importing any of them fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.pack.conftest import Site

BLOCKED = ("sqlalchemy", "weasyprint", "scapy", "jinja2", "psycopg", "alembic", "ecdsa")
FORBIDDEN = (
    "edgeaudit.note.signer",
    "edgeaudit.workspace.keys",
    "edgeaudit.workspace.manifest_key",
    "edgeaudit.store",
    "edgeaudit.pack",
)

_SCRIPT = """
import contextlib, io, json, sys
for name in {blocked!r}:
    sys.modules[name] = None  # any import of it now raises ImportError
from edgeaudit.cli.main import main
codes = []
for pack in {packs!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(main(["verify", pack, "--key", {vkey!r}, "--manifest-key", {mkey!r}]))
loaded = sorted(
    m for m in sys.modules if any(m == f or m.startswith(f + ".") for f in {forbidden!r})
)
print(json.dumps({{"codes": codes, "loaded": loaded}}))
"""


def _run(site: Site, packs: list[Path], blocked: tuple[str, ...]) -> dict[str, object]:
    script = _SCRIPT.format(
        blocked=blocked,
        packs=[str(p) for p in packs],
        vkey=str(site.vkey),
        mkey=str(site.mkey),
        forbidden=FORBIDDEN,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_verify_pack_needs_no_database_signing_or_pdf_code(
    site: Site, site_pack: Path, tenant_pack_zip: Path
) -> None:
    result = _run(site, [site_pack, tenant_pack_zip], BLOCKED)
    assert result == {"codes": [0, 0], "loaded": []}


def test_the_block_is_effective(site: Site, site_pack: Path) -> None:
    """Blocking the JWS library breaks verification: the harness does block imports."""
    script_blocked = ("jose",)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEAUDIT_")}
    script = _SCRIPT.format(
        blocked=script_blocked,
        packs=[str(site_pack)],
        vkey=str(site.vkey),
        mkey=str(site.mkey),
        forbidden=FORBIDDEN,
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    # the CLI turns the failed import into an internal error (exit 4), naming the module
    assert json.loads(done.stdout.strip().splitlines()[-1])["codes"] == [4], done.stderr
    assert "jose" in done.stderr
