"""What a webhook no longer pays for, and what it must still get (issue 14): no Session for a
message stored alone, one driver cursor per pooled connection, the sender's phone normalized
as normalize_phone does (remembered), Prometheus counting every answer as before, and the
pages' own after-request hooks still run for pages only."""

from __future__ import annotations

import random

import flask_login
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.domain import identity, intake
from service.domain.identity import BadAddress, normalize_handle, normalize_phone
from service.domain.messages import Delivery
from service.extensions import db
from service.models import InboxMessage
from tests.conftest import make_config
from tests.webhooks.conftest import PARSED_AT as NOW
from tests.webhooks.conftest import parsed_message as message
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text

ROUTE = "/webhooks/whatsapp"


@pytest.mark.usefixtures("postgres")
def test_a_message_stored_alone_makes_no_session(app):
    with app.app_context():
        accepted = intake.accept(
            db.session,  # the webhook's scoped session, with no Session in this scope
            Delivery(messages=(message("wamid.nosession"),)),
            region="MX",
            now=NOW,
            careful=False,
            notify=True,
            alone=db.engine,
        )
        assert not db.session.registry.has()
    assert len(accepted.new_ids) == 1


def test_a_webhook_of_several_messages_still_commits_its_session(app, post):
    """Not stored alone: the scoped session's Session is made, and committed."""
    one, two = whatsapp_text("wamid.s1"), whatsapp_text("wamid.s2")
    batch = one.replace(b'"messages": [', b'"messages": [' + _first_message(two) + b", ")
    answer = post.whatsapp(batch)
    assert answer.status_code == 200 and answer.json["accepted"] == 2
    assert {r.external_id for r in post.rows()} == {"wamid.s1", "wamid.s2"}


def _first_message(body: bytes) -> bytes:
    start = body.index(b'"messages": [') + len(b'"messages": [')
    return body[start : body.index(b"]", start)]


@pytest.mark.usefixtures("postgres")
def test_the_lean_statement_keeps_one_cursor_per_pooled_connection(app, post, monkeypatch):
    made: list[object] = []  # cursors made by the lean statement (jobs run inline make theirs)
    lean: list[bool] = []
    runs: list[bool] = []
    real_cursor, real_run = psycopg.Connection.cursor, intake._Fused._run_alone

    def counting(self, *args, **kwargs):
        if lean:
            made.append(self)
        return real_cursor(self, *args, **kwargs)

    def running(self, engine, row):
        lean.append(True)
        runs.append(True)
        try:
            return real_run(self, engine, row)
        finally:
            lean.pop()

    monkeypatch.setattr(psycopg.Connection, "cursor", counting)
    monkeypatch.setattr(intake._Fused, "_run_alone", running)
    for n in range(6):
        assert post.whatsapp(whatsapp_text(f"wamid.cur{n}")).status_code == 200
    with app.app_context():
        pooled = db.engine.pool.checkedin()
    # each webhook ran the lean statement; a cursor was made at most once per pooled connection
    assert len(runs) == 6 and len(made) <= pooled < 6
    # A connection the pool replaces gets a cursor of its own: its record's info is cleared.
    with app.app_context():
        for _ in range(pooled):
            connection = db.engine.raw_connection()
            connection.invalidate()
            connection.close()
    before = len(made)
    assert post.whatsapp(whatsapp_text("wamid.cur-new")).status_code == 200
    assert len(made) == before + 1
    assert post.count(InboxMessage) == 7


def _old_normalize_handle_phone(value: str, region: str) -> str:
    """normalize_handle's answer for a phone before the quick path: the library's."""
    if not identity._PHONE_TEXT.fullmatch(value.strip()):
        return value.strip()
    try:
        return normalize_phone(value, region)
    except BadAddress:
        return value.strip()


def test_a_phone_handle_is_normalized_as_normalize_phone_does():
    rnd = random.Random(1414)
    samples = ["+5215512345678", "5215512345678", "+5491123456789", "+5511987654321", "  +1 415"]
    samples += ["+1abc", "55 1234 5678", "(011) 4567-8901", "", " ", "+0", "00525512345678"]
    for _ in range(3000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 15)))
        samples.append(rnd.choice(["", "+", "00", "0", " ", "("]) + digits)
    for region in ("MX", "AR", "BR", "US", "ES", "ZZ"):
        for raw in samples:
            expected = _old_normalize_handle_phone(raw, region)
            assert normalize_handle("phone", raw, region) == expected, (raw, region)
            assert normalize_handle("phone", raw, region) == expected  # remembered, the same


def _counts(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("carteras_http"):
            for sample in family.samples:
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_every_webhook_answer_by_method_route_and_status(client, post):
    def requests(
        status: str, method: str = "POST", route: str = ROUTE
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        labels = {"method": method, "route": route, "status": status}
        return ("carteras_http_requests_total", tuple(sorted(labels.items())))

    latency = ("carteras_http_request_seconds_count", (("route", ROUTE),))
    before = _counts(client)
    for n in range(3):
        assert post.whatsapp(whatsapp_text(f"wamid.m{n}")).status_code == 200
    forged = whatsapp_text("wamid.forged")
    assert post.whatsapp(forged, {"X-Hub-Signature-256": "sha256=00"}).status_code == 401
    body = whatsapp_text("wamid.plain")
    assert (
        client.post(ROUTE, data=body, content_type="text/plain", headers=sign_whatsapp(body))
    ).status_code == 415
    assert client.open(ROUTE, method="PROPFIND").status_code == 405
    after = _counts(client)

    def grew(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew(requests("200")) == 3
    assert grew(requests("401")) == 1
    assert grew(requests("415")) == 1
    assert grew(requests("405", method="other", route="unmatched")) == 1  # no rule matched
    assert grew(latency) == 5


def test_flask_login_after_hook_runs_for_pages_and_not_for_webhooks(backend, monkeypatch):
    seen: list[str] = []
    real = flask_login.LoginManager._update_remember_cookie

    def watched(self, response):
        from flask import request

        seen.append(request.path)
        return real(self, response)

    monkeypatch.setattr(flask_login.LoginManager, "_update_remember_cookie", watched)
    url = str(backend.app.config["SQLALCHEMY_DATABASE_URI"])
    client = create_app(make_config(url)).test_client()
    page = client.get("/ingresar")
    webhook = client.post(ROUTE, data=b"{}", content_type="application/json")
    assert page.status_code == 200 and webhook.status_code in (401, 503)
    assert seen == ["/ingresar"]
    assert "Content-Security-Policy" in page.headers  # Talisman's, still before it


def test_a_webhook_forwarded_over_https_gets_hsts_like_a_secure_one(backend):
    url = str(backend.app.config["SQLALCHEMY_DATABASE_URI"])
    client = create_app(make_config(url, secure_cookies=True)).test_client()
    for _ in range(2):  # computed for the first, copied for the next
        forwarded = client.post(
            ROUTE,
            data=b"{}",
            content_type="application/json",
            headers={"X-Forwarded-Proto": "https"},
        )
        secure = client.post(
            ROUTE, data=b"{}", content_type="application/json", base_url="https://localhost"
        )
        assert (
            forwarded.headers["Strict-Transport-Security"]
            == (secure.headers["Strict-Transport-Security"])
        )
