"""The inbox's pages in a real browser (Debian's Chromium, driven by Playwright): a
duty practitioner at the NHS crisis line signs in at a real OpenID Connect provider,
sees an urgent alert that was just submitted arrive, opens it and acknowledges it
with the keyboard alone; the clock stops and nothing escalates.

The pages load nothing but the gateway's own (no script, no CDN); screenshots are
kept under ``.artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, Request

from gateway.alerts import escalate_due
from gateway.store.tables import alert_clocks
from tests.inbox.helpers import RECIPIENT, InboxGateway, inbox_gateway
from tests.web.browser import focus_is_visible, screenshot

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

DUTY = "oidc|cwp|duty-practitioner"  # crisis-line@cwp.example, role duty


@pytest.fixture(scope="module")
def inbox(broker, tmp_path_factory) -> Iterator[InboxGateway]:
    data_dir = tmp_path_factory.mktemp("inbox-browser")
    url = f"sqlite:///{data_dir / 'gateway.db'}"
    with inbox_gateway("sqlite", url, broker.bootstrap, data_dir) as running:
        yield running


def _tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the element focused has ``name`` as its text."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.innerText")
        if focused and name in focused:
            return
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


def _headings(page: Page) -> list[int]:
    return [
        int(tag[1])
        for tag in page.eval_on_selector_all("h1,h2,h3,h4", "e => e.map(h => h.tagName)")
    ]


def test_an_urgent_alert_arrives_is_opened_and_acknowledged_by_keyboard(inbox, browser):
    gateway_host = urlsplit(inbox.base_url).netloc
    provider_host = urlsplit(inbox.issuer).netloc
    elsewhere: list[str] = []

    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def only_here(route, request: Request) -> None:
        host = urlsplit(request.url).netloc
        if host in (gateway_host, provider_host) or request.url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    page.route("**/*", only_here)
    gateway_requests: list[str] = []
    page.on("request", lambda r: gateway_requests.append(r.url))

    # The inbox sends a person who is not signed in to the identity provider and back.
    page.goto(f"{inbox.base_url}/inbox")
    assert urlsplit(page.url).netloc == provider_host
    page.fill("input[name=sub]", DUTY)
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{inbox.base_url}/inbox")
    assert page.locator("h1").inner_text() == "Your inbox"
    screenshot(page, "inbox-before-the-alert")

    # An urgent alert is submitted by the mental-health trust's system, and arrives.
    exchange_id, item_id = inbox.submit_alert()
    gateway_requests.clear()
    elsewhere.clear()
    page.reload()
    row = page.locator("tbody tr", has=page.locator(f"a[href='/inbox/{item_id}']"))
    assert row.count() == 1
    text = row.inner_text()
    assert "URGENT" in text and "NEW" in text and "Waiting — deadline" in text
    assert page.locator("html").get_attribute("lang") == "en-GB"
    screenshot(page, "inbox-list")

    # The first Tab stop is the skip link, visibly focused; it leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to main content"
    assert focus_is_visible(page)
    screenshot(page, "inbox-skip-link-focused")

    # Open the alert with the keyboard.
    _tab_to(page, "from")  # the alert's link: "<category> from <sender>"
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"/inbox/{item_id}"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{inbox.base_url}/inbox/{item_id}")
    assert page.locator("h1").inner_text().startswith("URGENT")
    assert _headings(page)[0] == 1 and all(
        b - a <= 1 for a, b in zip(_headings(page), _headings(page)[1:], strict=False)
    )
    status = page.locator("[role=status]")
    assert "Waiting — deadline" in status.inner_text()
    assert "Step 1 of 2" in status.inner_text()
    body = page.locator("main").inner_text()
    assert "The record as" in body and "Who is told, and when" in body
    screenshot(page, "inbox-item")

    # Acknowledge it with the keyboard alone.
    _tab_to(page, "Acknowledge")
    assert focus_is_visible(page)
    screenshot(page, "inbox-item-acknowledge-focused")
    # The form posts and is redirected back to this same address: wait for that
    # navigation itself (waiting for the URL would return before it began).
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(f"{inbox.base_url}/inbox/{item_id}")
    status = page.locator("[role=status]")
    assert "Acknowledged by you at" in status.inner_text()
    assert "clock has stopped" in status.inner_text()
    assert page.locator("button:has-text('Acknowledge')").count() == 0
    screenshot(page, "inbox-item-acknowledged")

    # The clock stopped: no escalation however late it gets.
    with inbox.gateway.store.engine.connect() as conn:
        clock = (
            conn.execute(
                sa.select(alert_clocks).where(
                    alert_clocks.c.exchange_id == exchange_id,
                    alert_clocks.c.recipient == RECIPIENT,
                )
            )
            .mappings()
            .one()
        )
    assert clock["status"] == "acknowledged" and clock["acknowledged_by"] == f"person:{DUTY}"
    later = datetime.now(UTC) + timedelta(hours=3)
    assert all(s.clock_id != item_id for s in escalate_due(inbox.gateway.store, later))

    # Back in the list it says so, in words.
    page.goto(f"{inbox.base_url}/inbox")
    row = page.locator("tbody tr", has=page.locator(f"a[href='/inbox/{item_id}']"))
    assert "Acknowledged by you" in row.inner_text()
    screenshot(page, "inbox-list-after-acknowledging")

    # Nothing but the gateway's own pages: no scripts, nothing from elsewhere.
    assert elsewhere == []
    assert all(urlsplit(u).netloc == gateway_host for u in gateway_requests)
    assert page.locator("script").count() == 0
    page.close()
