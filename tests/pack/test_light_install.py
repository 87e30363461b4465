"""The light verifier: a fresh venv with only the core (``pip install edgeaudit``, no extras)
verifies packs built by the full install, and a command that needs an extra says which one.

Slow (about 20-40 s: a venv and a pip install, from pip's cache when warm). Skips when no
venv can be made (no ``venv`` module, no package index), except under ``CI=true`` where that
is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeaudit.extras import EXTRAS
from tests.pack.conftest import Site

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# what a source install needs: the package, the folders it ships (setup.py), the packaging files
SOURCES = (
    "edgeaudit",
    "migrations",
    "report_templates",
    "policies",
    "pyproject.toml",
    "setup.py",
    "README.md",
)

pytestmark = pytest.mark.slow


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the light-install test must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv holding edgeaudit's core only."""
    root = tmp_path_factory.mktemp("light")
    src = root / "src"  # a copy: pip builds in the source tree, the shared checkout stays clean
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    venv = root / "venv"
    # without pip (ensurepip took most of the venv's time): the test run's own pip installs
    # into it, so the venv holds the core, its dependencies and nothing else
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        _unavailable(f"cannot create a venv: {made.stderr.strip()[-500:]}")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    pip.append("--disable-pip-version-check")
    done = subprocess.run(
        [*pip, "install", "-q", str(src)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        _unavailable(f"pip install of the core failed: {done.stderr.strip()[-1500:]}")
    return venv / "bin"


def _run(core: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGEAUDIT_", "PYTHON"))}
    return subprocess.run(
        [str(core / "edgeaudit"), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_the_core_has_no_optional_part(core: Path, tmp_path: Path) -> None:
    optional = sorted({m for mods in EXTRAS.values() for m in mods})
    probe = f"import importlib.util as u; print([m for m in {optional!r} if u.find_spec(m)])"
    done = subprocess.run(
        [str(core / "python"), "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # e.g. no yaml, cedarpy, scapy, weasyprint, psycopg


def test_core_verifies_packs_of_the_full_install(
    core: Path,
    site: Site,
    site_pack: Path,
    tenant_pack: Path,
    tenant_pack_zip: Path,
    tmp_path: Path,
) -> None:
    keys = ("--key", str(site.vkey), "--manifest-key", str(site.mkey))
    assert _run(core, "--help", cwd=tmp_path).returncode == 0
    for pack in (site_pack, tenant_pack, tenant_pack_zip):
        done = _run(core, "verify", str(pack), *keys, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("OK:"), done.stdout
    # and it does check: one changed byte fails (exit 1), with no traceback
    bad = tmp_path / "bad"
    shutil.copytree(site_pack, bad)
    findings = bad / "findings.json"
    data = findings.read_bytes()
    assert b'"status":"fail"' in data
    findings.write_bytes(data.replace(b'"status":"fail"', b'"status":"pass"', 1))
    done = _run(core, "verify", str(bad), *keys, cwd=tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["evaluate", "--quarter", "2026Q3"], "policy"),
        (["collect", "syslog", "auth.log"], "collect"),
        (["pack", "build", "--quarter", "2026Q3", "--out", "p"], "policy,pdf"),
        (["serve", "--no-pdf"], "serve"),
        (["probe", "run", "--plan", "x"], "probe"),
        (["token", "issue", "--role", "officer"], "serve"),
    ],
)
def test_a_missing_extra_is_named(core: Path, tmp_path: Path, argv: list[str], extra: str) -> None:
    ws = tmp_path / "ws"
    assert _run(core, "--workspace", str(ws), "init", cwd=tmp_path).returncode == 0
    done = _run(core, "--workspace", str(ws), *argv, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"pip install 'edgeaudit[{extra}]'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_the_report_tells_the_auditor_how_to_install_the_verifier(site_pack: Path) -> None:
    from pypdf import PdfReader

    reader = PdfReader(site_pack / "report.pdf")
    last = " ".join(reader.pages[-1].extract_text().split())
    if "How to verify" not in last:  # the section may run over two pages
        last = " ".join(reader.pages[-2].extract_text().split()) + " " + last
    assert "How to verify" in last
    assert "pip install edgeaudit" in last
    assert "edgeaudit verify PACK --key" in last
