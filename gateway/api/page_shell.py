"""The shell every web page of the gateway shares: head, style, skip link, header.

Pages are rendered on the server as plain HTML: no script, nothing from a CDN
(the Content-Security-Policy allows the page's own inline style and nothing
else), usable by keyboard (a skip link first, a visible focus everywhere) and
readable without colour alone. Printing drops the header and the forms.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; margin: 0;
  color: #0b0c0c; background: #f3f2f1; line-height: 1.45; font-size: 1.05rem; }
.skip { position: absolute; left: -9999px; top: 0; background: #fd0; color: #0b0c0c;
  padding: .6rem 1rem; font-weight: 700; z-index: 10; }
.skip:focus { left: 0; }
header { background: #0b0c0c; color: #fff; padding: .6rem 1.5rem; display: flex;
  justify-content: space-between; align-items: center; flex-wrap: wrap; gap: .5rem; }
header p { margin: 0; font-weight: 700; }
header form { display: inline; }
header .who { margin-right: .8rem; }
main { max-width: 62rem; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; background: #fff;
  min-height: 70vh; }
main:focus { outline: none; }
h1 { font-size: 1.8rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.3rem; margin: 1.8rem 0 .6rem; border-bottom: 1px solid #b1b4b6;
  padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin: 1rem 0 .3rem; }
a { color: #1d70b8; }
a:visited { color: #4c2c92; }
a:focus-visible, button:focus-visible, input:focus-visible, main:focus-visible {
  outline: 3px solid #fd0; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c; }
button { font: inherit; font-weight: 700; padding: .55rem 1.1rem; border: 2px solid #0b0c0c;
  background: #00703c; color: #fff; border-radius: 0; cursor: pointer;
  box-shadow: 0 2px 0 #002d18; }
button.quiet { background: #f3f2f1; color: #0b0c0c; box-shadow: none; padding: .25rem .7rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .55rem .5rem; border-bottom: 1px solid #b1b4b6;
  vertical-align: top; }
thead th { border-bottom: 2px solid #0b0c0c; }
.tag { display: inline-block; font-weight: 700; padding: .1rem .45rem; border: 2px solid;
  letter-spacing: .03em; margin-right: .3rem; }
.urgent { color: #942514; background: #fcd6c3; border-color: #942514; }
.routine { color: #383f43; background: #eeefef; border-color: #383f43; }
.new { color: #0c2d4a; background: #bbd4ea; border-color: #0c2d4a; }
.status { font-weight: 700; }
.status.waiting { color: #6e3619; }
.status.acknowledged { color: #005a30; }
.status.exhausted { color: #942514; }
.status.withdrawn, .status.superseded { color: #383f43; }
.panel { border: 3px solid #0b0c0c; padding: 1rem 1.2rem; margin: 1rem 0; }
.panel.acknowledged { border-color: #00703c; background: #f0f7f2; }
.panel.waiting { border-color: #6e3619; background: #fff7e6; }
.panel.exhausted { border-color: #942514; background: #fcebe4; }
.panel p { margin: .3rem 0; }
dl.facts { display: grid; grid-template-columns: minmax(10rem, max-content) 1fr;
  gap: .35rem 1.2rem; margin: .5rem 0; }
dl.facts dt { font-weight: 700; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.facts dl.facts { border-left: 3px solid #b1b4b6; padding-left: .8rem; margin: 0; }
ol.steps li { margin: .3rem 0; }
.filters { margin: 0 0 1rem; padding: 0; list-style: none; display: flex; gap: 1rem;
  flex-wrap: wrap; }
.muted { color: #505a5f; font-weight: 400; }
.tag { white-space: nowrap; }
input, select { font: inherit; padding: .35rem .45rem; border: 2px solid #0b0c0c;
  border-radius: 0; background: #fff; color: #0b0c0c; }
select:focus-visible { outline: 3px solid #fd0; outline-offset: 0; box-shadow: 0 0 0 6px #0b0c0c; }
label { font-weight: 700; display: block; margin-bottom: .2rem; }
header nav.sections a { color: #fff; margin-right: 1rem; font-weight: 700; }
header nav.sections a[aria-current=page] { text-decoration: underline 3px; }
@media print {
  body { background: #fff; font-size: 10.5pt; }
  header, .skip, form, nav, .no-print { display: none !important; }
  main { max-width: none; padding: 0; min-height: 0; }
  a { color: #0b0c0c; text-decoration: none; }
  h2 { break-after: avoid; }
  tr, .panel, section { break-inside: avoid; }
}
"""

#: The headers every page answers with: never cached, nothing loaded from elsewhere.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Account:
    """The person a page is shown to: named in the header, with a sign-out form."""

    name: str
    csrf_token: str | None


def e(value: Any) -> str:
    """``value`` escaped for HTML text and attributes (None as nothing)."""
    return html.escape("" if value is None else str(value), quote=True)


def words(key: str) -> str:
    """A key as words: ``crime_record`` -> ``Crime record``."""
    text = key.replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def page(
    title: str,
    body: str,
    *,
    section: str,
    account: Account | None = None,
    next_path: str = "/",
    links: tuple[tuple[str, str], ...] = (),
    current: str | None = None,
    style: str = "",
) -> str:
    """A whole page: ``section`` names the part of the gateway in the header,
    ``links`` (label, path) its navigation, ``current`` the link of this page."""
    account_html = ""
    if account is not None:
        logout = "/auth/logout?" + urlencode({"next": next_path})
        account_html = (
            f'<nav aria-label="Account"><span class="who">Signed in as '
            f"{e(account.name)}</span>"
            f'<form method="post" action="{e(logout)}">'
            f'<input type="hidden" name="csrf_token" value="{e(account.csrf_token)}">'
            '<button type="submit" class="quiet">Sign out</button></form></nav>'
        )
    nav = ""
    if links:
        items = "".join(
            f'<a href="{e(path)}"'
            + (' aria-current="page"' if path == current else "")
            + f">{e(label)}</a>"
            for label, path in links
        )
        nav = f'<nav class="sections" aria-label="{e(section)}">{items}</nav>'
    return (
        '<!doctype html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}: information-sharing gateway</title>\n"
        f"<style>{STYLE}{style}</style>\n</head>\n<body>\n"
        '<a class="skip" href="#main">Skip to main content</a>\n'
        f"<header><p>Information-sharing gateway: {e(section)}</p>{nav}{account_html}"
        "</header>\n"
        f'<main id="main" tabindex="-1">\n{body}\n</main>\n</body>\n</html>\n'
    )


def html_response(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=dict(HEADERS))


__all__ = ["HEADERS", "STYLE", "Account", "e", "html_response", "page", "words"]
