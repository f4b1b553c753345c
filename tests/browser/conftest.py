"""Browser fixtures: Debian's Chromium driven by Playwright against the real stack.

The platform comes from the session's `stack` fixture (tests/conftest.py); AMP_BROWSER_BASE_URL
points the tests at an already running gateway instead (e.g. `amp up --port 8099`, with AMP_TOKEN
from `amp token`). Every browser signs in on the sign-in page first.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("AMP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="session")
def gateway_url(request) -> str:
    url = os.environ.get("AMP_BROWSER_BASE_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("stack").gateway_url.rstrip("/")


@pytest.fixture()
def playwright_driver(gateway_url) -> Iterator:
    """Playwright's sync driver for one test only.

    Its event loop runs in this thread while it is open, so it is started after the platform (whose
    fixtures call asyncio.run) and stopped before any other test runs.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: the browser tests need Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


class Browser:
    """One fresh Chromium profile per test, with screenshots named after the test."""

    def __init__(self, playwright, name: str, base_url: str, width: int, height: int) -> None:
        self.profile = tempfile.mkdtemp(prefix="amp-chromium-")
        self.context = playwright.chromium.launch_persistent_context(
            self.profile, executable_path=str(CHROMIUM), args=ARGS, headless=True, accept_downloads=True,
            viewport={"width": width, "height": height}, base_url=base_url)
        self.context.set_default_timeout(30_000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        self.step = 0

    def shot(self, label: str) -> Path:
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.name}-{self.step:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def sign_in(page, token: str) -> None:
    """The local sign-in page: a token in, the HttpOnly session cookie set, the app shown."""
    page.goto("/signin")
    page.fill("#signin-token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(#.*)?$"))
    page.wait_for_selector("#project-list", state="attached")  # hidden behind the menu on a narrow screen


@pytest.fixture()
def browser(request, gateway_url, playwright_driver) -> Iterator[Browser]:
    marker = request.node.get_closest_marker("viewport")
    width, height = marker.args if marker else (1280, 900)
    b = Browser(playwright_driver, request.node.name, gateway_url, width, height)
    sign_in(b.page, os.environ["AMP_TOKEN"])
    yield b
    b.close()


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "viewport(width, height): the browser window size of a browser test")
