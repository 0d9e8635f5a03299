"""Signed-in browsers for page tests (through the Flask test client, CSRF on)."""

import re

import pytest

PASSWORD = "una-clave-segura"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


class Browser:
    def __init__(self, client):
        self.client = client

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def submit(self, page_path, action=None, data=None, **kw):
        """GET the page, take its CSRF token, POST *data* to *action* (default: same page)."""
        page = self.client.get(page_path)
        payload = {"csrf_token": csrf(page.get_data(as_text=True)), **(data or {})}
        return self.client.post(action or page_path, data=payload, **kw)


@pytest.fixture
def login(app, make):
    def sign_in(role="coordinator", agent_id=None, email=None):
        email = email or f"{role}@example.com"
        make.user(email, role, agent_id)
        client = app.test_client()
        browser = Browser(client)
        response = browser.submit("/ingresar", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return browser

    return sign_in
