"""A live server on loopback and Debian's Chromium driven by Playwright (never a downloaded
browser build). Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.app import create_app
from service.extensions import db
from tests.conftest import PG_URL, make_config, unavailable
from tests.fake_rocketchat import _QuietHandler

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live(app, backend):
    """The service served over HTTP (a fresh app on the test database, reset by `app`)."""
    database = f"sqlite:///{backend.file}" if backend.name == "sqlite" else PG_URL
    served = create_app(make_config(database))
    server = make_server("127.0.0.1", 0, served, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    served.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield served
    server.shutdown()
    server.server_close()
    with served.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def problems() -> list[str]:
    """CSP violations and script errors seen by `page` (a test expecting one clears it)."""
    return []


@pytest.fixture
def page(chromium, problems):
    """A tab; the test fails if the page broke the Content-Security-Policy (Chromium logs
    every refused script, style or connection to the console) or raised a script error."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900}, locale="es-MX")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    yield tab
    context.close()
    assert problems == [], problems


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
