"""One tenant pack: `pack build --tenant` and the service's export job build a tenant's pack of
a snapshot the same way (``pack.build.build_assessed_pack``): the period's site assessment,
recorded, with the store-integrity check, restricted to the tenant by the one tenant view.

The two packs are compared file by file, byte for byte. What may differ, and nothing else:

* ``manifest.jws``: an ES256 signature (ECDSA signatures are randomized);
* ``manifest.json``: ``created_at`` (the build time), and what follows from it: the
  ``report.pdf`` line of ``files`` and ``evidence_digest`` (the digest of the content manifest,
  which holds ``created_at``);
* ``report.pdf``: it prints the build time and carries the content manifest; its
  ``findings.json`` attachment is the same bytes, its ``pack-manifest.json`` the same apart
  from ``created_at``.

Both packs use the same checkpoint: the service's export request appends its access record
first, the job records the assessment and signs; the CLI, run next on the same workspace,
finds that assessment current, appends nothing and signs the same tree (the same note).
Neither carries ``consistency.json``: the workspace has built no pack before.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from edgeaudit.canonical import canonical_json
from edgeaudit.demo import generate_campus
from edgeaudit.pack.findings import for_view
from edgeaudit.pack.manifest import content_manifest
from edgeaudit.pack.period import Period
from edgeaudit.pack.scope import TenantView
from edgeaudit.policy.engine import evaluate
from edgeaudit.policy.files import load_policies
from edgeaudit.policy.statuses import STATUSES
from edgeaudit.serve.app import asgi
from edgeaudit.serve.setup import make_service
from edgeaudit.store import Store
from edgeaudit.workspace import config as cfg
from tests.pack.helpers import run
from tests.serve.conftest import POLICIES, TENANTS, Site, bearer, settings

Q = "2026Q3"
SIGNED_OR_TIMED = ("manifest.json", "manifest.jws", "report.pdf")  # compared field by field


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collected demo campus with the repository's policies and a signed checkpoint; each
    test copies it (the builds append to the store and sign)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(cfg.ENV_WORKSPACE, raising=False)
        mp.delenv(cfg.ENV_DB_URL, raising=False)
        root = tmp_path_factory.mktemp("onetenantpack")
        campus, ws = root / "campus", root / "ws"
        generate_campus(campus, 2000, seed=5)
        assert run("--workspace", str(ws), "init", "--site", "blr-pod-1")[0] == 0
        code, _, err = run("--workspace", str(ws), "demo", "collect", "--out", str(campus))
        assert code == 0, err
        shutil.copytree(POLICIES, ws / "policies")
        code, _, err = run("--workspace", str(ws), "checkpoint")
        assert code == 0, err
        return ws


Built = tuple[Site, bytes, bytes]  # the site (a copy of base), the service's pack, the CLI's


@pytest.fixture(scope="module")
def _builds() -> dict[tuple[str, str | None], Built]:
    return {}


@pytest.fixture
def build(
    base: Path,
    _builds: dict[tuple[str, str | None], Built],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[str, str | None], Built]:
    """``build(tenant, framework)``: both packs of that tenant, built on a fresh copy of
    ``base``, once per module (the tests only read the packs and the copy; the counts test
    reads the same fintech-a build the comparison does, instead of building it again)."""
    monkeypatch.delenv(cfg.ENV_WORKSPACE, raising=False)
    monkeypatch.delenv(cfg.ENV_DB_URL, raising=False)

    def get(tenant: str, framework: str | None) -> Built:
        if (tenant, framework) not in _builds:
            root = tmp_path_factory.mktemp("onetenant")
            shutil.copytree(base, root / "ws")
            site = Site(root, root / "ws", cfg.load(root / "ws"))
            _builds[tenant, framework] = (site, *_build_both(site, tenant, framework))
        return _builds[tenant, framework]

    return get


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _tree_size(site: Site) -> int:
    with Store.open(site.config.db_url) as store, store.log(site.config.origin).reader() as r:
        return r.head()[0]


def _header(manifest: dict[str, Any]) -> dict[str, Any]:
    signed_only = ("files", "evidence_digest", "manifest_key")
    return {k: v for k, v in manifest.items() if k not in signed_only}


def _manifest(
    header: dict[str, Any], files: list[dict[str, Any]], manifest_key: str
) -> dict[str, Any]:
    """A manifest as the builder writes it (``pack.manifest.manifest_bytes``)."""
    digest = hashlib.sha256(content_manifest(header, files)).hexdigest()
    return {**header, "files": files, "evidence_digest": digest, "manifest_key": manifest_key}


def _build_both(site: Site, tenant: str, framework: str | None) -> tuple[bytes, bytes]:
    """(the service's export, `pack build --tenant`) of the same snapshot, as ZIP bytes."""
    svc = make_service(site.config, settings(site, pdf=True, cache_seconds=0.0))
    try:
        with TestClient(asgi(svc), raise_server_exceptions=False) as client:
            token = bearer(site.token("tenant", tenant))
            body: dict[str, str] = {"period": Q}
            if framework:
                body["framework"] = framework
            r = client.post("/api/v1/exports", json=body, headers=token)
            assert r.status_code == 202, r.text
            job = svc.jobs.wait(r.json()["id"], 300)
            assert job is not None
            assert job.status == "done", job
            size = _tree_size(site)
            assert job.tree_size == size  # nothing was appended after the job's checkpoint
            assert not (site.ws / "packs" / "last-checkpoint").exists()  # no earlier pack
            cli = site.root / "cli.zip"
            argv = ["--workspace", str(site.ws), "pack", "build", "--quarter", Q]
            argv += ["--tenant", tenant, "--out", str(cli)]
            argv += ["--framework", framework] if framework else []
            code, _, err = run(*argv)
            assert code == 0, err
            # the CLI reused the assessment the export recorded: the same snapshot, one tree
            assert _tree_size(site) == size
            r = client.get(f"/api/v1/exports/{job.id}/download", headers=token)
            assert r.status_code == 200, r.text
            return r.content, cli.read_bytes()
    finally:
        svc.close()


@pytest.mark.parametrize(
    ("tenant", "framework"), [("fintech-a", None), ("media-b", "pci-dss-4.0.1")]
)
def test_cli_and_service_build_the_same_tenant_pack(
    build: Callable[[str, str | None], Built], tenant: str, framework: str | None
) -> None:
    site, served, built = build(tenant, framework)
    a, b = _members(served), _members(built)
    assert list(a) == list(b)  # the same files, in the same order
    assert {"findings.json", "report.pdf", "checkpoint"} <= set(a)
    assert "consistency.json" not in a

    # every file but the signed or timed ones: byte for byte
    for name in a:
        if name not in SIGNED_OR_TIMED:
            assert a[name] == b[name], f"{name} differs"

    # manifest.json: the same but for the build time (and the PDF and digest that hold it)
    ma, mb = json.loads(a["manifest.json"]), json.loads(b["manifest.json"])
    for m, raw in ((ma, a["manifest.json"]), (mb, b["manifest.json"])):
        assert canonical_json(_manifest(_header(m), m["files"], m["manifest_key"])) == raw
    pdf_b = next(f for f in mb["files"] if f["path"] == "report.pdf")
    files = [pdf_b if f["path"] == "report.pdf" else f for f in ma["files"]]
    at_b = {**_header(ma), "created_at": mb["created_at"]}
    assert canonical_json(_manifest(at_b, files, ma["manifest_key"])) == b["manifest.json"]
    assert ma["tenant"] == tenant
    assert ma["checkpoint"] == mb["checkpoint"]

    # report.pdf: the same findings attached; the same content manifest but for the build time
    att_a = PdfReader(io.BytesIO(a["report.pdf"])).attachments
    att_b = PdfReader(io.BytesIO(b["report.pdf"])).attachments
    assert att_a["findings.json"] == att_b["findings.json"]
    assert att_a["findings.json"][0] == a["findings.json"]
    cma, cmb = (json.loads(att["pack-manifest.json"][0]) for att in (att_a, att_b))
    assert {**cma, "created_at": None} == {**cmb, "created_at": None}

    # both verify offline
    vkey = site.root / "log.vkey"
    vkey.write_text(site.config.verifier_key + "\n")
    mkey = site.root / "manifest.pub"
    assert run("--workspace", str(site.ws), "pack", "key", "--out", str(mkey))[0] == 0
    for name, data in (("served.zip", served), ("built.zip", built)):
        (site.root / name).write_bytes(data)
        code, out, err = run(
            "verify", str(site.root / name), "--key", str(vkey), "--manifest-key", str(mkey)
        )
        assert code == 0, out + err

    # the one assessment source: the site assessment, store integrity checked with the key
    doc = json.loads(a["findings.json"])
    assert doc["assessment"]["tenant"] == tenant
    integrity = [r for r in doc["results"] if r["rule"] == "store-integrity"]
    assert [r["status"] for r in integrity] == ["pass"], integrity
    if framework:
        assert doc["assessment"]["frameworks"] == [framework]
        assert {c["framework"] for c in doc["controls"]} == {framework}


def test_a_tenant_packs_counts_are_its_own(build: Callable[[str, str | None], Built]) -> None:
    """``assessment.counts`` of a tenant pack count the tenant's results, never the site's;
    so do the control notes ("n of m results fail")."""
    site, served, _ = build("fintech-a", None)
    doc = json.loads(_members(served)["findings.json"])
    own = Counter(r["status"] for r in doc["results"])
    assert doc["assessment"]["counts"] == {s: own[s] for s in STATUSES}
    assert {r["scope"].get("tenant") for r in doc["results"]} == {"fintech-a", None}
    ids = {r["id"] for r in doc["results"]}
    for c in doc["controls"]:
        assert set(c["results"]) <= ids
        note = c.get("note") or ""
        if " of " in note and note.split(" ", 1)[0].isdigit():
            assert int(note.split(" of ", 1)[1].split(" ", 1)[0]) == len(c["results"]), c

    # the assessment the pack restricts, as recorded in the store, counts more: every tenant's
    with Store.open(site.config.db_url) as store, store.log(site.config.origin).reader() as r:
        recorded = [
            json.loads(body) for _, body, _ in r.select(["policy.result"], None, None, r.head()[0])
        ]
    site_results = [
        rec["result"] for rec in recorded if rec["assessment"]["id"] == doc["assessment"]["id"]
    ]
    assert {rec["assessment"]["tenant"] for rec in recorded} == {None}  # site assessments only
    site_counts = Counter(res["status"] for res in site_results)
    assert len(site_results) > len(ids)
    assert ids < {res["id"] for res in site_results}
    assert doc["assessment"]["counts"] != {s: site_counts[s] for s in STATUSES}


@pytest.fixture(scope="module")
def assessed(base: Path) -> tuple[Any, dict[str, Any], dict[str, dict[str, Any]]]:
    """(policies, the site's assessment, each tenant's by the engine's own tenant view), one
    evaluation time, nothing recorded."""
    config = cfg.load(base)
    policies = load_policies(base / "policies")
    period = Period.quarter(Q)
    kw = {"start": period.start_text, "end": period.end_text, "now": "2026-12-01T00:00:00Z"}
    with Store.open(config.db_url) as store:
        log = store.log(config.origin)
        site_doc = evaluate(policies, log, **kw).to_dict()  # type: ignore[arg-type]
        tenants = {
            t: evaluate(policies, log, tenant=t, **kw).to_dict()  # type: ignore[arg-type]
            for t in TENANTS
        }
    return policies, site_doc, tenants


@pytest.mark.parametrize("tenant", TENANTS)
def test_the_pack_view_of_the_site_assessment_is_the_engines_tenant_view(
    assessed: tuple[Any, dict[str, Any], dict[str, dict[str, Any]]], tenant: str
) -> None:
    """``for_view`` of the site assessment keeps the results, control statuses, notes and
    counts the engine's own tenant view gives (citations of entries outside the tenant's scope
    aside: the engine withholds them, a pack carries those entries redacted)."""
    policies, site_doc, tenants = assessed
    view = TenantView.for_tenant(policies.inventory, tenant)
    supports = frozenset(c.ref for c in policies.catalogue.controls if c.supports_only)
    engine = view.redact_value(tenants[tenant])
    mine = for_view(site_doc, view, supports)
    assert [r["id"] for r in mine["results"]] == [r["id"] for r in engine["results"]]
    assert mine["controls"] == engine["controls"]
    assert mine["assessment"]["counts"] == engine["assessment"]["counts"]
    assert for_view(engine, view, supports)["controls"] == engine["controls"]  # idempotent
