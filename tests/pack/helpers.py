"""Shared helpers of the pack tests: run the CLI, a stand-in assessment in the engine's shape."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from edgeaudit.cli.main import main
from edgeaudit.events import prepare
from edgeaudit.store import EvidenceLog

QUARTER = "2026Q3"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def entries(pack: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (pack / "evidence.jsonl").read_text().splitlines()]


def body(record: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.b64decode(record["entry"]))
    return decoded


def copy_pack(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def assessment(log_entries: list[tuple[int, bytes]], tree_size: int) -> dict[str, Any]:
    """A stand-in for the policy engine's output (the seam's shape), built from real entries:
    JIT coverage per admin session, cross-tenant key use, a waiver, a not-evaluated probe rule."""
    results: list[dict[str, Any]] = []
    controls: dict[tuple[str, str], list[str]] = {}

    def add(
        rule: str,
        status: str,
        ctrls: list[str],
        scope: dict[str, Any],
        cites: list[tuple[int, bytes]],
        **extra: Any,
    ) -> None:
        rid = "F-" + hashlib.sha256(f"{rule}/{len(results)}".encode()).hexdigest()[:16]
        results.append(
            {
                "id": rid,
                "rule": rule,
                "title": rule.replace("-", " "),
                "status": status,
                "severity": "high" if status == "fail" else "info",
                "controls": ctrls,
                "scope": scope,
                "reason": extra.pop("reason", f"{rule}: {status}"),
                "evidence": [
                    {"index": i, "leaf_hash": hashlib.sha256(b"\x00" + b).hexdigest()}
                    for i, b in cites
                ],
                **extra,
            }
        )
        for c in ctrls:
            fw, _, ctl = c.partition(":")
            controls.setdefault((fw, ctl), []).append(rid)

    jit = ["iso27001-2022:a.8.2", "soc2:cc6.3", "pci-dss-4.0.1:7.2.1"]
    sessions = 0
    for i, raw in log_entries:
        e = json.loads(raw)
        scope = e.get("scope") or []
        if e["kind"] == "session.start" and len(scope) == 1 and sessions < 12:
            status = "pass" if sessions % 3 else "fail"
            add(
                "jit-session-covered",
                status,
                jit,
                {
                    "tenant": scope[0],
                    "asset": e.get("target", {}).get("asset"),
                    "principal": e.get("actor", {}).get("principal"),
                },
                [(i, raw)],
            )
            sessions += 1
        elif e["kind"] == "key.use" and len(scope) > 1:
            owner = e["key"]["owner"]
            add(
                "key-use-by-owner-only",
                "fail",
                ["pci-dss-4.0.1:3.6.1", "iso27001-2022:a.8.24"],
                {"tenant": owner, "principal": e["actor"].get("principal")},
                [(i, raw)],
                reason=(
                    f"{e['actor'].get('principal')} ({e['actor'].get('tenant')}) used "
                    f"{e['key']['key']} from {e['actor'].get('src_ip')}"
                ),
            )
    first_tenant = results[0]["scope"]["tenant"]
    add(
        "segmentation-probe-current",
        "not-evaluated",
        ["pci-dss-4.0.1:11.4.5"],
        {"tenant": first_tenant},
        [],
        reason="no probe results in the period",
    )
    waived = next(
        r for r in results if r["status"] == "fail" and r["rule"] == "jit-session-covered"
    )
    waived["status"] = "waived"
    waived["waiver"] = {
        "reason": "emergency patch, ticket CHG-1",
        "approved_by": "meera.s",
        "expires": "2026-12-31T00:00:00Z",
    }
    by_id = {r["id"]: r for r in results}
    control_docs = []
    for (fw, ctl), ids in sorted(controls.items()):
        statuses = [by_id[i]["status"] for i in ids]
        status = "not-satisfied" if "fail" in statuses else "satisfied"
        if ctl == "11.4.5":
            status = "supported" if "pass" in statuses else "not-evaluated"
        control_docs.append(
            {
                "framework": fw,
                "control": ctl,
                "title": f"{fw} {ctl}",
                "status": status,
                "results": ids,
            }
        )
    return {
        "assessment": {
            "id": str(uuid.UUID(int=7, version=4)),
            "from": "2026-07-01T00:00:00Z",
            "to": "2026-10-01T00:00:00Z",
            "tenant": None,
            "frameworks": ["iso27001-2022", "soc2", "pci-dss-4.0.1"],
            "tree_size": tree_size,
            "evaluated_at": "2026-10-02T00:00:00Z",
        },
        "results": results,
        "controls": control_docs,
    }


def record_assessment(log: EvidenceLog, doc: dict[str, Any]) -> None:
    """Append ``doc``'s results as ``policy.result`` entries, in the shape the policy engine
    records them (``edgeaudit.policy.record``): a pack's findings must be recorded results."""
    header = {k: v for k, v in doc["assessment"].items() if k not in ("evaluated_at", "counts")}
    records = []
    for r in doc["results"]:
        tenant = r["scope"].get("tenant")
        rec: dict[str, Any] = {
            "time": doc["assessment"]["evaluated_at"],
            "kind": "policy.result",
            "class_uid": 2003,
            "source": "edgeaudit-policy",
            "outcome": {"pass": "success", "fail": "failure"}.get(r["status"], "unknown"),
            "scope": [tenant] if tenant else [],
            "assessment": header,
            "result": r,
        }
        if tenant:
            rec["tenant"] = tenant
        records.append(prepare(rec, fingerprint=f"test:{header['id']}:{r['id']}"))
    log.append(records)
