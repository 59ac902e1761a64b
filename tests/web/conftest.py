"""Fixtures of the operating picture's tests: the node harness (in process), and a
headless Debian chromium driven by Playwright (skipped where either is missing)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.node.conftest import harness  # noqa: F401 (a node served in process)

#: Debian's chromium (``apt-get install chromium``); Playwright never downloads one
CHROMIUM = Path(os.environ.get("SKYACCORD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium")
    exe = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextmanager
def logged_in(browser: Any, url: str, token: str, wait_ms: int) -> Iterator[Any]:
    """A page of the picture at ``url``, logged in with ``token`` and live; on leaving,
    no script error may have happened on it."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 850})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(wait_ms)
    pg.goto(url + "/")
    pg.fill("#token", token)
    pg.click("#login-button")
    pg.wait_for_selector("#conn:has-text('live')")
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, errors
