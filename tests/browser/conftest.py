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


# What sticks out of the screen on the right: the page scrolling sideways, or any element drawn
# past the viewport's right edge (the part a scrolling or clipping box hides does not count:
# that box is checked itself).
_OVERFLOW = """() => {
  const width = window.innerWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) {
    out.push(`page ${document.documentElement.scrollWidth}px wide`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
    let right = box.right;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX !== "visible" || style.clip !== "auto") {
        right = Math.min(right, up.getBoundingClientRect().right);
      }
    }
    if (right > width + 1) {
      const cls = typeof el.className === "string" ? el.className.trim() : "";
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (cls ? "." + cls.split(/\\s+/).join(".") : "");
      const text = (el.textContent || "").trim().slice(0, 60);
      out.push(`${name} ends at ${Math.round(box.right)}px: ${text}`);
    }
  }
  return out;
}"""

# Every action of every list row (links, buttons, "Eliminar" disclosures) drawn wholly on the
# screen's width, not hidden past the edge of a scrolling table.
_ACTIONS_OFF_SCREEN = """(selector) => {
  const width = window.innerWidth;
  const off = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    let left = box.left, right = box.right;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") {
        const clip = up.getBoundingClientRect();
        if (left < clip.left - 1 || right > clip.right + 1) { left = -1; break; }
      }
    }
    if (left < 0 || right > width + 1) {
      const text = (el.textContent || "").trim();
      off.push(`${text} at ${Math.round(box.left)}-${Math.round(box.right)}px`);
    }
  }
  return off;
}"""
ROW_ACTIONS = ".row-actions > a, .row-actions button, .row-actions summary"


def fits(page) -> None:
    """Nothing on the page is wider than the screen (its viewport, whatever its size)."""
    page.wait_for_load_state()
    width = page.evaluate("window.innerWidth")
    sticking_out = page.evaluate(_OVERFLOW)
    assert not sticking_out, f"{page.url} at {width}px: " + "; ".join(sticking_out)


def actions_on_screen(page, selector: str = ROW_ACTIONS) -> int:
    """Each row's actions are on screen (none scrolled off with a wide table); how many."""
    page.wait_for_load_state()
    off = page.evaluate(_ACTIONS_OFF_SCREEN, selector)
    assert not off, f"{page.url}: actions off screen: " + "; ".join(off)
    return page.locator(selector).count()


def go_to(page, name: str) -> None:
    """Follow *name* in the side menu, unfolding it first where it is folded (a phone).

    Called right after a click that navigates (signing in), the page may still be the old
    one: wait for the menu's page to be there and its script run (it shows the "Menú"
    button) before deciding whether the menu is folded.
    """
    link = page.get_by_role("navigation", name="Menú principal").get_by_role(
        "link", name=name, exact=True
    )
    # (a role locator skips what is hidden, and a folded menu is: wait on the element itself)
    page.locator("nav#menu").wait_for(state="attached")
    page.wait_for_load_state()
    if not link.is_visible():
        toggle = page.locator("[data-menu-button]")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
    link.click()
