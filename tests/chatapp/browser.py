"""Playwright on Debian's Chromium (never a downloaded browser), one browser per test package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(browser: Browser, base_url: str) -> Iterator[tuple[BrowserContext, Page]]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    try:
        yield context, page
    finally:
        context.close()
    page_errors = [e for e in errors if "Failed to load resource" not in e]
    assert not page_errors, f"errors in the page: {page_errors}"
