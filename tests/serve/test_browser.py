"""Real browser: Playwright drives Debian's chromium against `edgeaudit serve`'s app on uvicorn.

Needs /usr/bin/chromium (scripts/test installs Debian's ``chromium`` when run as root) and the
``playwright`` Python package (no browser download). Without them the tests skip, except under
``CI=true`` where that is a failure. Screenshots go to the pytest tmp directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from edgeaudit.serve.app import asgi
from edgeaudit.serve.setup import make_service
from tests.conftest import IN_CI
from tests.pack.helpers import run
from tests.serve.conftest import Site, settings

CHROMIUM = os.environ.get("EDGEAUDIT_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
Q = "2026Q3"


def _need_browser() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed (pip install playwright)"
    if problem is None and not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: the browser tests must run)", pytrace=False)
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def server(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # uvicorn serves on this socket, bound here and never closed in between: no other program
    # can take the port between choosing it and listening on it
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # a service answering at this server's address (its --public-url)
    service = make_service(
        site.config,
        settings(
            site,
            public_url=f"http://127.0.0.1:{port}",
            exports=tmp_path_factory.mktemp("browser-exports"),
        ),
    )
    config = uvicorn.Config(asgi(service), log_level="warning", proxy_headers=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # start-up on a loaded machine
    while not srv.started:
        assert thread.is_alive(), "uvicorn ended before it started"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    service.close()
    sock.close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _sign_in(browser: Any, server: str, token: str) -> Any:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server}/login")
    page.fill("#token", token)
    page.click("#signin")
    page.wait_for_load_state()
    return page


def test_officer_sees_the_dashboard(
    site: Site, server: str, browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    page = _sign_in(browser, server, site.token("officer"))
    assert page.url.startswith(f"{server}/dashboard")
    page.goto(f"{server}/dashboard?period={Q}")
    assert "Compliance dashboard" in page.inner_text("h1")
    table = page.inner_text("#frameworks")
    for fw in ("iso27001-2022", "soc2", "pci-dss-4.0.1"):
        assert fw in table
    assert page.locator("#findings tr").count() > 1
    assert site.config.verifier_key in page.inner_text("#verify-guide")
    # the session cookie is invisible to scripts
    assert "edgeaudit_session" not in page.evaluate("document.cookie")
    shots = tmp_path_factory.mktemp("screenshots")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert (shots / "dashboard.png").stat().st_size > 10_000
    page.context.close()


def test_tenant_exports_downloads_and_verifies(
    site: Site, server: str, browser: Any, tmp_path: Path
) -> None:
    page = _sign_in(browser, server, site.token("tenant", "fintech-a"))
    assert page.url.startswith(f"{server}/tenant/fintech-a")
    page.goto(f"{server}/tenant/fintech-a?period={Q}")
    before = page.locator("tr.export").count()
    page.fill("#export-period", Q)
    page.click("#request-export")
    page.wait_for_load_state()
    assert page.locator("tr.export").count() == before + 1
    newest = page.locator("tr.export").first
    deadline = time.monotonic() + 120
    while newest.get_attribute("data-status") not in ("done", "failed"):
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.3)
        page.reload()
        newest = page.locator("tr.export").first
    assert newest.get_attribute("data-status") == "done", newest.inner_text()
    page.screenshot(path=str(tmp_path / "tenant.png"), full_page=True)
    with page.expect_download() as info:
        newest.locator("a.download").click()
    pack = tmp_path / "pack.zip"
    info.value.save_as(str(pack))
    vkey = tmp_path / "log.vkey"
    vkey.write_text(site.config.verifier_key)
    mkey = tmp_path / "manifest.pub"
    assert run("--workspace", str(site.ws), "pack", "key", "--out", str(mkey))[0] == 0
    code, out, err = run("verify", str(pack), "--key", str(vkey), "--manifest-key", str(mkey))
    assert code == 0, out + err
    assert "fintech-a" in out
    page.context.close()


def test_tenant_cannot_open_another_tenants_page(
    site: Site, server: str, browser: Any, tmp_path: Path
) -> None:
    page = _sign_in(browser, server, site.token("tenant", "fintech-a"))
    response = page.goto(f"{server}/tenant/media-b?period={Q}")
    assert response is not None
    assert response.status == 403
    assert "own tenant" in page.inner_text("#error")
    assert "media-b" not in page.inner_text("main").replace("/tenant/media-b", "")
    page.screenshot(path=str(tmp_path / "forbidden.png"))
    page.context.close()
