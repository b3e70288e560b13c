"""What the browser tests share: Debian's Chromium as the closed network needs it,
where screenshots are kept, and the keyboard checks every page must pass."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Page

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"
#: What the machine's closed network needs of Chromium (no background calls home).
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """Keep ``name``.png under .artifacts/screenshots/ (a test artefact to look at);
    a nearly empty image means the page did not render."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 5_000
    return path


def focus_is_visible(page: Page) -> bool:
    """The focused element shows it: an outline of some width, or a box shadow."""
    outline, width, shadow = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; })()"
    )
    return (outline != "none" and width not in ("0px", "")) or shadow != "none"
