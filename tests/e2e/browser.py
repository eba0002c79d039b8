"""Debian's Chromium driven by Playwright, for the console's browser tests.

Playwright never downloads a browser here: it drives /usr/bin/chromium (`make chromium`
installs it), headless, with the flags this machine's closed network needs (no background
networking, no component updates, no sync), in a fresh temporary profile per launch.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium") or CHROMIUM
    if not shutil.which(found):
        raise RuntimeError("no chromium: run `make chromium` (Debian: apt-get install chromium)")
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()
