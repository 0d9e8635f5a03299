"""The Content-Security-Policy breaks nothing: badge colours, the icon picker, the API docs
(the `page` fixture fails the test on any CSP violation in the console)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_badges_keep_their_colour_without_inline_styles(live, make, page):
    base = live.config["LIVE_URL"]
    team = make.team("Norte")
    make.cartera("Premium", team, None, "💎", color="#1E88E5")
    make.user("carla@example.com", "coordinator")
    sign_in(page, base, "carla@example.com")
    badge = page.locator(".badge", has_text="Premium")
    expect(badge).to_be_visible()
    colour = badge.evaluate("b => getComputedStyle(b).borderTopColor")
    assert colour == "rgb(30, 136, 229)"
    page.goto(f"{base}/carteras/nueva")
    page.get_by_role("button", name="Usar 💎").click()
    expect(page.get_by_label("Ícono", exact=True)).to_have_value("💎")


def test_api_docs_still_render(live, page):
    base = live.config["LIVE_URL"]
    page.goto(f"{base}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Carteras")
    expect(page.locator(".opblock").first).to_be_visible()


def test_an_inline_script_would_be_refused(live, page, problems):
    """The policy is really enforced: a script injected into a page does not run."""
    base = live.config["LIVE_URL"]
    page.goto(f"{base}/ingresar")
    ran = page.evaluate(
        """() => { window.__ran = false; const s = document.createElement('script');
        s.textContent = 'window.__ran = true'; document.body.appendChild(s);
        return window.__ran; }"""
    )
    assert ran is False
    page.wait_for_timeout(200)  # the console message arrives asynchronously
    assert any("Content Security Policy" in text for text in problems), problems
    problems.clear()  # expected here
