"""Swagger UI and ReDoc load everything from the gateway itself: partners' networks are
closed, so a page that reaches for a CDN shows nothing there."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest


class _Assets(HTMLParser):
    """The URLs a page's ``script`` and ``link`` tags load."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_loads_its_assets_from_the_gateway(api_gateway, page):
    base = api_gateway.base_url
    answer = httpx.get(f"{base}{page}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(answer.text)
    assert len(parser.urls) >= 2  # a script and a favicon at least
    gateway_host = urlsplit(base).netloc
    for url in parser.urls:
        assert not url.startswith("//"), url
        if urlsplit(url).scheme:
            assert urlsplit(url).netloc == gateway_host, url
        asset = httpx.get(urljoin(f"{base}{page}", url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    for elsewhere in ("cdn.", "googleapis", "unpkg", "jsdelivr", "validator.swagger.io"):
        assert elsewhere not in answer.text
    assert "/openapi.json" in answer.text
    assert httpx.get(f"{base}/openapi.json").status_code == 200


def test_swagger_ui_has_no_online_validator(api_gateway):
    page = httpx.get(f"{api_gateway.base_url}/docs").text
    assert '"validatorUrl": null' in page
