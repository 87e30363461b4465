"""Fuzz the API from its own OpenAPI document (schemathesis): no server errors, no hangs,
the one error shape on every failure. Requests carry an officer token (the widest access), so
the generated inputs reach the handlers rather than stopping at 401."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from edgeaudit.serve.app import OPENAPI_URL, asgi
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from tests.serve.conftest import Site, bearer
from tests.serve.conftest import settings as serve_settings


@pytest.fixture(scope="module")
def fuzz_service(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # its own exports directory: fuzzed export requests must not disturb the other tests' jobs
    svc = make_service(
        site.config, serve_settings(site, exports=tmp_path_factory.mktemp("fuzz-exports"))
    )
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def api_schema(fuzz_service: Service) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi(OPENAPI_URL, asgi(fuzz_service))


@pytest.fixture(scope="module")
def officer(site: Site) -> dict[str, str]:
    return bearer(site.token("officer", ttl=3600))


def test_api_fuzz(api_schema: schemathesis.BaseSchema, officer: dict[str, str]) -> None:
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            t0 = time.monotonic()
            response = case.call(headers=officer)
            elapsed = time.monotonic() - t0
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (where, response.text[:300])
            assert elapsed < 30, f"{where} took {elapsed:.1f} s"
            if response.status_code >= 400:
                doc = json.loads(response.text)
                assert set(doc) == {"error"}, where
                assert doc["error"]["status"] == response.status_code, where

        check()
