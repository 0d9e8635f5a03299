"""Security headers on every response: pages, API, errors, docs; HSTS only when configured."""

import pytest

from service.app import create_app
from tests.conftest import make_config


def policy(response):
    header = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in header.split(";")) if part
    }


@pytest.mark.parametrize(
    "path",
    ["/ingresar", "/carteras", "/no-existe", "/api/contacts", "/healthz", "/openapi.json"],
)
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = policy(response)
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert "Strict-Transport-Security" not in response.headers


def test_signed_in_pages_carry_them_too(login):
    browser = login()
    for path in ("/carteras", "/contactos", "/auditoria", "/agente", "/contactos/importar"):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert policy(response)["script-src"] == ["'self'"], path
        html = response.get_data(as_text=True)
        # what the policy would refuse: inline code and inline styles
        assert " style=" not in html and "<style" not in html, path
        assert "<script>" not in html and " on" + "click=" not in html, path


def test_the_docs_page_has_its_own_relaxed_policy(client):
    response = client.get("/docs")
    assert response.status_code == 200
    csp = policy(response)
    assert "'unsafe-inline'" in csp["script-src"] and csp["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_when_secure_cookies_are_on(backend):
    url = str(backend.app.config["SQLALCHEMY_DATABASE_URI"])
    insecure = create_app(make_config(url)).test_client()
    assert (
        "Strict-Transport-Security"
        not in insecure.get("/healthz", base_url="https://localhost").headers
    )
    secure_app = create_app(make_config(url, secure_cookies=True))
    secure = secure_app.test_client()
    hsts = secure.get("/healthz", base_url="https://localhost").headers
    assert hsts["Strict-Transport-Security"].startswith("max-age=")
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True
    assert insecure.application.config["SESSION_COOKIE_SECURE"] is False
