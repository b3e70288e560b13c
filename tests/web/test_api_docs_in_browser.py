"""The API's documentation pages in a real browser (Debian's Chromium, driven by
Playwright): they render from the gateway alone, as partners' closed networks need.

Every request the pages make to any other host is refused and counted; a
screenshot of each page is kept under ``.artifacts/screenshots/``."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route

from tests.conftest import start_gateway
from tests.web.browser import screenshot


@pytest.fixture(scope="module")
def gateway(broker, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("gw-docs")
    running, server, thread = start_gateway(
        "sqlite", f"sqlite:///{data_dir / 'gateway.db'}", broker.bootstrap, data_dir
    )
    yield running
    server.should_exit = True
    thread.join(timeout=10)
    running.runtime.stop()


def _open(browser, url: str):
    """A page at ``url`` whose requests to any other host are refused and listed."""
    own = urlsplit(url).netloc
    elsewhere: list[str] = []

    def only_the_gateway(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own or route.request.url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", only_the_gateway)
    page.goto(url, wait_until="networkidle")
    return page, elsewhere


def test_swagger_ui_renders_every_operation_from_the_gateway_alone(gateway, browser):
    page, elsewhere = _open(browser, f"{gateway.base_url}/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/inbound/police" in o for o in operations)
    assert any("/oauth2/token" in o for o in operations)
    assert page.locator("button.authorize").count() == 1  # the OAuth2 scheme is offered
    assert screenshot(page, "swagger-ui", full_page=False).stat().st_size > 10_000
    assert elsewhere == []
    page.close()


def test_redoc_renders_from_the_gateway_alone(gateway, browser):
    page, elsewhere = _open(browser, f"{gateway.base_url}/redoc")
    page.wait_for_selector("[role=menuitem], .menu-content", timeout=15_000)
    assert "Information-sharing gateway" in page.content()
    assert screenshot(page, "redoc", full_page=False).stat().st_size > 10_000
    assert elsewhere == []
    page.close()
