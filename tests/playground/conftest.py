"""A real browser for the playground tests: Debian's Chromium (`/usr/bin/chromium`, installed by
scripts/setup_venv.sh), driven by Playwright's Python package (browser downloads are not possible
here, so Playwright's own browsers are never used).

Each test gets a fresh browser context (empty session storage) and a `Tab` that records what
the page did: every request URL and every console error (a CSP violation is one), so a test can
assert that the page loaded nothing from elsewhere and logged no error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    async_playwright,
    expect,
)

CHROMIUM = "/usr/bin/chromium"
# The machine's network is closed: without these Chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# Condition waits of `expect`: the engine tests run rounds on a shared 2-core machine.
expect.set_options(timeout=60_000)
# Set to a directory (e.g. docs/img) to also keep the screenshots there.
SCREENSHOT_DIR_ENV = "VTCR1_SCREENSHOT_DIR"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup_venv.sh (Debian package chromium)")
    async with async_playwright() as playwright:
        # A new empty user data dir per launch (Playwright's default).
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@dataclass
class Tab:
    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self, allowed: tuple[str, ...] = ()) -> None:
        """Only this server (and data: URLs) was contacted; nothing went to the console as an
        error (CSP violations, uncaught exceptions), but for messages containing one of
        `allowed` (Chromium logs every HTTP error status of a fetch, e.g. "status of 401")."""
        foreign = [u for u in self.requests if not u.startswith((self.base_url, "data:"))]
        assert not foreign, f"requests to other origins: {foreign}"
        errors = [e for e in self.errors if not any(a in e for a in allowed)]
        assert not errors, f"console errors: {errors}"

    async def screenshot(self, directory: Path, name: str, *, full_page: bool = True) -> Path:
        path = directory / name
        await self.page.screenshot(path=str(path), full_page=full_page)
        keep = os.environ.get(SCREENSHOT_DIR_ENV)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / name)
        return path


OpenTab = Callable[[str], contextlib.AbstractAsyncContextManager[Tab]]


@pytest.fixture
def open_tab(browser: Browser) -> OpenTab:
    """`async with open_tab(base_url) as tab`: the playground loaded in a fresh context."""

    @contextlib.asynccontextmanager
    async def make(base_url: str) -> AsyncIterator[Tab]:
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        tab = Tab(page, base_url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                tab.errors.append(message.text)

        def on_request(request: Request) -> None:
            tab.requests.append(request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda error: tab.errors.append(str(error)))
        page.on("request", on_request)
        try:
            await page.goto(base_url + "/")
            yield tab
        finally:
            await context.close()

    return make
