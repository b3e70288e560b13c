"""The auditor's dashboard in a real browser (Debian's Chromium, driven by Playwright):
an auditor signs in at a real OpenID Connect provider, sees the chain verified and
the charts, searches a sample exchange by keyboard, opens its timeline, finds the
person it is about by their PNC ID and opens their subject access report, which
prints without the page's header and forms.

The pages load nothing but the gateway's own (no script, no CDN); screenshots are
kept under ``.artifacts/screenshots/`` (and the report's print as a PDF)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request

from gateway.audit.checkpoints import keys_from_settings, take_checkpoint
from tests.auditor.helpers import AUDITOR, SUSPECT_PNC, add_auditors, submit_police
from tests.inbox.helpers import InboxGateway, inbox_gateway
from tests.web.browser import SCREENSHOTS, focus_is_visible, screenshot

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def audited(broker, tmp_path_factory) -> Iterator[InboxGateway]:
    data_dir = tmp_path_factory.mktemp("auditor-browser")
    url = f"sqlite:///{data_dir / 'gateway.db'}"
    with inbox_gateway("sqlite", url, broker.bootstrap, data_dir) as running:
        add_auditors(running.issuer)
        yield running


def _headings_in_order(page: Page) -> bool:
    levels = [
        int(tag[1])
        for tag in page.eval_on_selector_all("h1,h2,h3,h4", "e => e.map(h => h.tagName)")
    ]
    return levels[0] == 1 and all(b - a <= 1 for a, b in pairwise(levels))


def _no_script_and_labelled(page: Page) -> None:
    assert page.locator("script").count() == 0
    unlabelled = page.eval_on_selector_all(
        "input:not([type=hidden]), select",
        "els => els.filter(el => !(el.labels && el.labels.length)).map(el => el.name)",
    )
    assert unlabelled == []


def test_an_auditor_searches_an_exchange_and_reports_on_its_subject(audited, browser):
    police = submit_police(audited)
    audited.submit_alert()
    audited.gateway.wait_drained()
    keys = keys_from_settings(audited.gateway.runtime.settings)
    assert take_checkpoint(audited.gateway.store.engine, keys) is not None

    gateway_host = urlsplit(audited.base_url).netloc
    provider_host = urlsplit(audited.issuer).netloc
    elsewhere: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def only_here(route, request: Request) -> None:
        if urlsplit(request.url).netloc in (gateway_host, provider_host):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort()

    page.route("**/*", only_here)

    # Not signed in: to the identity provider and back.
    page.goto(f"{audited.base_url}/auditor")
    assert urlsplit(page.url).netloc == provider_host
    page.fill("input[name=sub]", AUDITOR)
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{audited.base_url}/auditor")
    elsewhere.clear()  # the provider's own sign-in page is not the gateway's
    page.reload()
    assert page.locator("h1").inner_text() == "Audit trail"
    status = page.locator("#chain-status")
    assert "Chain verified." in status.inner_text()
    assert "Signed checkpoints: 1 checked" in status.inner_text()
    assert status.get_attribute("role") == "status"
    charts = page.locator("main").inner_text()
    assert "Copies disclosed per flow per week" in charts
    assert "Refusals by rule" in charts and "Dead letters per week" in charts
    assert "Urgent alerts by time to acknowledgement" in charts
    # Each chart's figures are written out, and offered as a table; an empty one says so.
    assert page.locator("table.weekly tbody tr").count() >= 2  # police and alert flows
    flow = page.locator("table.weekly tbody th a").first
    assert "decision=permit" in (flow.get_attribute("href") or "")
    assert page.locator("details summary").count() >= 3
    assert page.locator(".chart .value").count() > 0
    assert "No copy was dead-lettered in this period." in charts
    assert _headings_in_order(page)
    _no_script_and_labelled(page)
    screenshot(page, "auditor-overview")

    # The first Tab stop is the skip link, visibly focused.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to main content"
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # Search for the police exchange by keyboard: its id, then Enter.
    page.focus("#exchange_id")
    assert focus_is_visible(page)
    page.keyboard.type(police)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{audited.base_url}/auditor/search?*")
    assert page.locator("h1").inner_text() == "Search the audit trail"
    rows = page.locator("tbody tr")
    assert rows.count() >= 3
    operations = [t.lower() for t in page.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert "collection" in operations and "disclosure" in operations
    _no_script_and_labelled(page)
    screenshot(page, "auditor-search")

    # Open its timeline.
    page.locator(f"a[href='/auditor/exchanges/{police}']").first.click()
    page.wait_for_url(f"{audited.base_url}/auditor/exchanges/{police}")
    assert page.locator("h1").inner_text() == "Exchange timeline"
    timeline = page.locator("ol.timeline").inner_text().lower()
    for stage in ("received", "decided: permitted", "minimised", "delivered"):
        assert stage in timeline, stage
    assert "paths kept" in timeline and "paths removed" in timeline
    assert _headings_in_order(page)
    screenshot(page, "auditor-exchange-timeline")

    # Find the person by their PNC ID (posted, never in the address).
    page.goto(f"{audited.base_url}/auditor")
    page.select_option("#system", "pnc_id")
    page.fill("#value", SUSPECT_PNC)
    page.click("button:has-text('Find this person')")
    page.wait_for_url(f"{audited.base_url}/auditor/subjects/sp-*")
    assert SUSPECT_PNC not in page.url and SUSPECT_PNC not in page.content()
    assert page.locator("h1").inner_text() == "One person's entries"
    assert police[:8] in page.locator("tbody").inner_text()
    screenshot(page, "auditor-subject")

    # The subject access report, on screen and as printed.
    page.click("a:has-text('Subject access report (printable)')")
    page.wait_for_url(f"{audited.base_url}/auditor/subjects/sp-*/report")
    report = page.locator("main").inner_text()
    assert page.locator("h1").inner_text() == "Subject access report"
    assert "DPA 2018 s45(4)(a)-(b)" in report and "for the DPO to decide" in report
    assert "Cheshire Constabulary" in report
    # Partners and refused parties by name, as a data-protection officer reads them.
    assert "Cheshire Constabulary force control room (24/7)" in report
    assert "cheshire-control-room" not in report
    for value in ("Marsh", "Daniel", "1985-03-02", SUSPECT_PNC):
        assert value not in report
    assert _headings_in_order(page)
    screenshot(page, "auditor-subject-access-report")
    page.emulate_media(media="print")
    assert page.locator("header").is_hidden()
    assert page.locator(".print-note").is_hidden()
    assert page.locator(".exemption").first.is_visible()
    screenshot(page, "auditor-subject-access-report-print")
    pdf = SCREENSHOTS / "auditor-subject-access-report.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 10_000
    page.emulate_media(media="screen")

    assert elsewhere == []
    page.close()


def test_a_person_without_the_role_is_refused_the_dashboard(audited, browser):
    page = browser.new_page()
    page.goto(f"{audited.base_url}/auditor")
    page.fill("input[name=sub]", "oidc|cwp|duty-manager")  # role spoc only
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{audited.base_url}/auditor")
    assert page.locator("h1").inner_text() == "You cannot use the audit pages"
    assert "auditor or dpo" in page.locator("main").inner_text()
    page.close()
