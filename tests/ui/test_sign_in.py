"""Sign-in: only local redirects after it, and password guessing throttled per account and
per client address, logged without the password or the email."""

from __future__ import annotations

import logging

import pytest

from service.app import create_app
from service.domain.users import email_fingerprint
from service.extensions import db
from service.ui.auth import local_target, throttle
from tests.conftest import PG_URL, make_config
from tests.isolation import REDIS_URL
from tests.ui.conftest import PASSWORD, Browser

OFF_SITE = [
    "https://evil.com",
    "//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/%2F%2Fevil.com",
    "/%5Cevil.com",
    "/%09/evil.com",
    " //evil.com",
    "\x00//evil.com",
    "/\x00/evil.com",
    "javascript:alert(1)",
    "evil.com",
    "http:/evil.com",
    "/" + "a" * 5000,
]


def sign_in(app, target, email="ana@example.com"):
    browser = Browser(app.test_client())
    return browser.submit(
        "/ingresar",
        action="/ingresar",
        data={"email": email, "password": PASSWORD},
        query_string={"next": target},
    )


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_off_site_is_refused(target):
    assert local_target(target) is None


@pytest.mark.parametrize("target", ["/\t/evil.com", "/\\evil.com", "/%2F%2Fevil.com", "//evil.com"])
def test_sign_in_never_redirects_off_site(app, make, target):
    make.user("ana@example.com", "coordinator")
    response = sign_in(app, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/carteras?q=vip", "/carteras?q=vip"),
        ("/contactos/5", "/contactos/5"),
        ("/con\ttactos", "/contactos"),  # control characters are dropped, as browsers do
    ],
)
def test_sign_in_follows_a_local_next(app, make, target, lands):
    make.user("ana@example.com", "coordinator")
    assert sign_in(app, target).headers["Location"] == lands


def test_a_strange_next_is_no_error(app, make):
    make.user("ana@example.com", "coordinator")
    client = app.test_client()
    browser = Browser(client)
    page = "/ingresar?next=%ff%fe%ed%a0%80"  # not UTF-8, and an encoded surrogate
    response = browser.submit(page, data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert local_target("/\ud800") == "/\ud800"  # a local path, however odd
    assert client.get("/carteras").status_code == 200


def fail(browser, email="ana@example.com"):
    return browser.submit("/ingresar", data={"email": email, "password": "no-es-la-clave"})


def test_guessing_one_account_is_throttled_with_a_spanish_wait(app, make):
    make.user("ana@example.com", "coordinator")
    browser = Browser(app.test_client())
    for _ in range(5):
        assert fail(browser).status_code == 200
    blocked = browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    html = blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    assert "Demasiados intentos. Espere 1 minuto e intente de nuevo." in html
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert browser.get("/carteras").status_code == 302  # the right password did not sign in
    # other accounts from elsewhere are not affected
    make.user("bea@example.com", "coordinator")
    other = Browser(app.test_client())
    assert (
        other.submit(
            "/ingresar",
            data={"email": "bea@example.com", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        ).status_code
        == 302
    )


def test_the_same_account_from_another_address_is_throttled_too(app, make):
    make.user("ana@example.com", "coordinator")
    browser = Browser(app.test_client())
    for _ in range(5):
        fail(browser)
    elsewhere = Browser(app.test_client())
    response = elsewhere.submit(
        "/ingresar",
        data={"email": " ANA@example.com ", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 429


def test_guessing_many_accounts_from_one_address_is_throttled(app, make):
    make.user("ana@example.com", "coordinator")
    browser = Browser(app.test_client())
    for n in range(10):
        assert fail(browser, f"nadie{n}@example.com").status_code == 200
    response = browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 429


def test_successful_sign_ins_do_not_count(app, make):
    make.user("ana@example.com", "coordinator")
    for _ in range(12):
        assert sign_in(app, "/carteras").status_code == 302


def test_attempts_are_logged_without_password_email_or_address(app, make, caplog):
    caplog.set_level(logging.INFO)
    user_id = make.user("ana@example.com", "coordinator")
    browser = Browser(app.test_client())
    for _ in range(5):
        fail(browser)
    browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    for n in range(11):  # the address limit too: Flask-Limiter logs the key it refuses
        fail(browser, f"nadie{n}@example.com")
    throttle(app).reset()
    browser.submit("/ingresar", data={"email": "ana@example.com", "password": PASSWORD})
    attempts = [r for r in caplog.records if r.name == "carteras.auth"]
    messages = [r.getMessage() for r in attempts]
    assert messages[:6] == ["sign-in failed"] * 5 + ["sign-in throttled"]
    assert messages[-2:] == ["sign-in throttled", "sign-in"]
    assert {r.account for r in attempts[:6]} == {email_fingerprint("ana@example.com")}
    assert any("exceeded" in r.getMessage() for r in caplog.records if r.name == "flask-limiter")
    assert attempts[-1].user_id == user_id
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in ("ana@example.com", PASSWORD, "no-es-la-clave", "127.0.0.1"):
        assert secret not in logged


@pytest.mark.parametrize("redis", ["up", "down"])
def test_counts_live_in_redis_when_there_is_one(backend, make, real_redis, redis):
    database = f"sqlite:///{backend.file}" if backend.name == "sqlite" else PG_URL
    url = REDIS_URL if redis == "up" else "redis://127.0.0.1:1/0"
    served = create_app(make_config(database, redis_url=url))
    try:
        make.user("ana@example.com", "coordinator")
        browser = Browser(served.test_client())
        for _ in range(5):
            assert fail(browser).status_code == 200
        blocked = browser.submit(
            "/ingresar", data={"email": "ana@example.com", "password": PASSWORD}
        )
        # with Redis away it counts in memory instead: still throttled, never a 500
        assert blocked.status_code == 429
        stored = real_redis.keys("*carteras-sign-in*")
        assert bool(stored) == (redis == "up")
    finally:
        with served.app_context():
            db.engine.dispose()


def test_the_wait_is_translated(app, make):
    browser = Browser(app.test_client())
    browser.get("/ingresar?lang=en")
    for _ in range(6):
        response = fail(browser)
    assert response.status_code == 429
    assert "Too many attempts. Wait 1 minute and try again." in response.get_data(as_text=True)
