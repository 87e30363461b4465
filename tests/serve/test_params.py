"""No 5xx from input: every endpoint's parameters, out of range, malformed or random, answer
a 4xx in the one error shape (pages: an error page), never a 500 and never a traceback."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeaudit.errors import InputError
from edgeaudit.serve import params
from edgeaudit.serve.app import asgi
from edgeaudit.serve.service import Service
from edgeaudit.serve.setup import make_service
from tests.serve.conftest import Site, bearer
from tests.serve.conftest import settings as serve_settings

BAD_PERIODS = ["9999Q4", "0000Q1", "1969Q4", "99999Q1", "2026Q0", "2026Q5", "Q3", "2026Q3x"]
BAD_RANGES = [
    ("0001-01-01", "2026-01-01"),
    ("1969-12-31", "2026-01-01"),
    ("2026-01-01", "9999-12-31"),
    ("2026-13-01", "2026-14-01"),
    ("2026-02-30", "2026-03-01"),
    ("2026-07-01", "2026-07-01"),
    ("2026-07-01T00:00:00+05:00", "2026-08-01"),
    ("yesterday", "today"),
]


@pytest.fixture(scope="module")
def svc(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # its own exports (max one pending): generated export requests stay cheap
    s = make_service(
        site.config,
        serve_settings(site, exports=tmp_path_factory.mktemp("param-exports"), max_pending=1),
    )
    yield s
    s.close()


@pytest.fixture(scope="module")
def api(svc: Service) -> Iterator[TestClient]:
    with TestClient(asgi(svc), raise_server_exceptions=False, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="module")
def officer(site: Site) -> dict[str, str]:
    return bearer(site.token("officer"))


@pytest.fixture(scope="module")
def pages(site: Site, svc: Service) -> Iterator[TestClient]:
    with TestClient(asgi(svc), raise_server_exceptions=False, base_url="http://testserver") as c:
        page = c.get("/login")
        m = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert m
        r = c.post(
            "/login",
            data={"token": site.token("officer"), "csrf": m.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        yield c


def _shape(r: object, where: str) -> None:
    status = r.status_code  # type: ignore[attr-defined]
    assert status < 500, (where, r.text[:300])  # type: ignore[attr-defined]
    if status >= 400:
        doc = json.loads(r.text)  # type: ignore[attr-defined]
        assert set(doc) == {"error"}, where
        assert doc["error"]["status"] == status, where
        assert "Traceback" not in doc["error"]["message"], where


def test_the_period_range() -> None:
    assert params.quarter("1970Q1").start == 0
    assert params.quarter("9998Q4").end == params.LAST
    for text in BAD_PERIODS:
        with pytest.raises(InputError):
            params.quarter(text)
    for a, b in BAD_RANGES:
        with pytest.raises(InputError):
            params.between(a, b)
    assert params.between("2026-07-01", "2026-07-02T12:00:00Z").label.startswith("2026-07-01")


def test_out_of_range_periods_are_4xx_everywhere(
    api: TestClient, officer: dict[str, str], pages: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        for endpoint in ("findings", "assessments", "probe-runs"):
            for p in BAD_PERIODS:
                r = api.get(f"/api/v1/{endpoint}?" + urlencode({"period": p}), headers=officer)
                assert r.status_code == 400, (endpoint, p, r.text)
                _shape(r, f"{endpoint} {p!r}")
            for a, b in BAD_RANGES:
                r = api.get(
                    f"/api/v1/{endpoint}?" + urlencode({"from": a, "to": b}), headers=officer
                )
                assert r.status_code == 400, (endpoint, a, b, r.text)
                _shape(r, f"{endpoint} {a}..{b}")
        for p in BAD_PERIODS:
            r = api.post("/api/v1/exports", json={"period": p}, headers=officer)
            assert r.status_code == 400, (p, r.text)
        for a, b in BAD_RANGES:
            r = api.post("/api/v1/exports", json={"from": a, "to": b}, headers=officer)
            assert r.status_code == 400, (a, b, r.text)
        for page in ("/dashboard", "/findings", "/probe-runs", "/tenant/fintech-a"):
            for p in BAD_PERIODS[:5]:
                r = pages.get(f"{page}?" + urlencode({"period": p}))
                assert r.status_code == 400, (page, p, r.text[:300])
                assert "Traceback" not in r.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # nothing logged


_years = st.integers(min_value=-5, max_value=120_000).map(str)
quarters = st.one_of(
    st.builds(lambda y, q: f"{y}Q{q}", _years, st.integers(-1, 9)),
    st.text(max_size=20),
)
dates = st.one_of(
    st.builds(
        lambda y, m, d: f"{y:0>4}-{m:0>2}-{d:0>2}",
        _years,
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,12})?[Zz]\Z"),
    st.text(max_size=45),
)
numbers = st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=12))
words = st.text(max_size=80)
frameworks = st.one_of(st.none(), st.sampled_from(["soc2", "iso27001-2022", "pci"]), words)
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _query(**kw: object) -> str:
    return urlencode({k.rstrip("_"): v for k, v in kw.items() if v is not None})


@PROPERTY
@given(
    period=st.one_of(st.none(), quarters),
    from_=st.one_of(st.none(), dates),
    to=st.one_of(st.none(), dates),
    tenant=st.one_of(st.none(), words),
    framework=frameworks,
    endpoint=st.sampled_from(["findings", "assessments", "probe-runs"]),
)
def test_property_reads(
    api: TestClient,
    officer: dict[str, str],
    period: str | None,
    from_: str | None,
    to: str | None,
    tenant: str | None,
    framework: str | None,
    endpoint: str,
) -> None:
    q = _query(period=period, from_=from_, to=to, tenant=tenant, framework=framework)
    _shape(api.get(f"/api/v1/{endpoint}?{q}", headers=officer), f"{endpoint}?{q}")


@PROPERTY
@given(
    body=st.dictionaries(
        st.sampled_from(["period", "from", "to", "tenant", "framework", "other"]),
        st.one_of(st.none(), quarters, dates, words, st.integers(), st.booleans()),
        max_size=4,
    )
)
def test_property_export_requests(
    api: TestClient, officer: dict[str, str], body: dict[str, object]
) -> None:
    r = api.post("/api/v1/exports", json=body, headers=officer)
    _shape(r, f"POST exports {body!r}")


@PROPERTY
@given(job=words, suffix=st.sampled_from(["", "/download"]))
def test_property_export_ids(
    api: TestClient, officer: dict[str, str], job: str, suffix: str
) -> None:
    path = f"/api/v1/exports/{quote(job, safe='')}{suffix}"
    _shape(api.get(path, headers=officer), path)


@PROPERTY
@given(index=numbers, tree_size=st.one_of(st.none(), numbers), old=numbers, new=numbers)
def test_property_proofs(
    api: TestClient, index: object, tree_size: object, old: object, new: object
) -> None:
    path = f"/api/v1/proof/inclusion/{quote(str(index), safe='')}?{_query(tree_size=tree_size)}"
    _shape(api.get(path), path)
    path = f"/api/v1/proof/consistency?{_query(old=old, new=new)}"
    _shape(api.get(path), path)


@PROPERTY
@given(
    period=st.one_of(st.none(), quarters),
    page=st.sampled_from(["/dashboard", "/findings", "/probe-runs", "/tenant/fintech-a"]),
    tenant=words,
)
def test_property_pages(pages: TestClient, period: str | None, page: str, tenant: str) -> None:
    r = pages.get(f"{page}?{_query(period=period)}", follow_redirects=False)
    assert r.status_code < 500, (page, period, r.text[:300])
    r = pages.get(f"/tenant/{quote(tenant, safe='')}", follow_redirects=False)
    assert r.status_code < 500, (tenant, r.text[:300])
    r = pages.get(f"/exports/{quote(tenant, safe='')}/download", follow_redirects=False)
    assert r.status_code < 500, (tenant, r.text[:300])
