"""docs/api.md against the OpenAPI document: every endpoint, its roles, its parameters and its
error codes, both ways; and the document declares bearer authentication."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
_HEAD = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/\S+)`$")


def _documented() -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = _HEAD.match(line)
        if m:
            current = out.setdefault((m.group(1), m.group(2)), {})
            continue
        if current is None or not line.startswith("- "):
            continue
        field, _, value = line[2:].partition(": ")
        if field == "Roles":
            current["roles"] = sorted(v.strip() for v in value.split(","))
        elif field == "Parameters":
            current["params"] = sorted(re.findall(r"`([^`]+)`", value))
        elif field == "Errors":
            current["errors"] = sorted(re.findall(r"\d{3}", value))
    return out


def _described(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = [p["name"] for p in op.get("parameters", [])]
            body = op.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                params += list(doc["components"]["schemas"][ref]["properties"])
            out[(method.upper(), path)] = {
                "roles": sorted(op.get("x-roles", [])),
                "params": sorted(params),
                "errors": sorted(k for k in op["responses"] if int(k) >= 400),
            }
    return out


def test_api_doc_matches_the_openapi_document(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    described, documented = _described(doc), _documented()
    assert len(described) >= 13
    assert set(documented) == set(described), set(documented) ^ set(described)
    for key, want in described.items():
        assert documented[key] == want, (key, documented[key], want)


def test_openapi_declares_bearer_authentication(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "an API token (edgeaudit token issue)",
    }
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            public = op.get("x-roles") == ["anyone"]
            assert ("security" in op) != public, (method, path)
            if not public:
                assert op["security"] == [{"bearer": []}]
                assert "401" in op["responses"]
