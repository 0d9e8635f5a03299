"""The webhooks' lane (webhooks/lane.py, issue 14): a platform's usual POST is answered
without Flask's request machinery, exactly as Flask answers it; anything else, and any
error, is answered by Flask, with the request run once."""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa
from flask import Flask, request_started
from werkzeug.test import Client

from service.extensions import db
from service.models import InboxMessage
from tests import samples
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text
from webhooks import whatsapp

ROUTE = "/webhooks/whatsapp"
# The columns a webhook writes from the request (received_at and updated_at are the clock's;
# the routing job, run inline here, writes the others).
WRITTEN = (
    "provider",
    "channel",
    "kind",
    "sender_kind",
    "sender_value",
    "sender_raw",
    "sender_name",
    "other_identities",
    "recipient",
    "thread_key",
    "text",
    "attachments",
    "sent_at",
    "status",
)


class Dispatches:
    """Requests Flask itself dispatched (its request_started signal)."""

    def __init__(self, app: Flask) -> None:
        self.app, self.count = app, 0

    def __enter__(self) -> Dispatches:
        request_started.connect(self._seen, self.app)
        return self

    def __exit__(self, *exc: object) -> None:
        request_started.disconnect(self._seen, self.app)

    def _seen(self, sender: object, **extra: object) -> None:
        self.count += 1


def flask_only(app: Flask) -> Client:
    """A client of Flask's own WSGI app: no lane in front of it."""
    return Client(lambda environ, start: Flask.wsgi_app(app, environ, start), app.response_class)


def _row(app: Flask, external_id: str) -> dict[str, object]:
    with app.app_context():
        row = db.session.scalars(
            sa.select(InboxMessage).where(InboxMessage.external_id == external_id)
        ).one()
        return {c: getattr(row, c) for c in WRITTEN} | {
            "payload_message": {k: v for k, v in row.payload["message"].items() if k != "id"}
        }


def _comparable(response) -> tuple[int, object, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    return response.status_code, response.get_json(), headers


@pytest.mark.parametrize("secure", [False, True])
def test_the_lane_answers_and_stores_as_flask_does(app, client, secure):
    base = "https://localhost" if secure else "http://localhost"
    answers, rows = [], []
    with Dispatches(app) as dispatched:
        for name, poster in (("flask", flask_only(app)), ("lane", client)):
            body = whatsapp_text(f"wamid.{name}", text="¿Llegó mi pedido? 📦")
            answer = poster.post(
                ROUTE,
                data=body,
                content_type="application/json",
                headers=sign_whatsapp(body),
                base_url=base,
            )
            answers.append(_comparable(answer))
            rows.append(_row(app, f"wamid.{name}"))
    assert dispatched.count == 1  # the Flask-only post; the lane's was not dispatched by Flask
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert rows[0] == rows[1]


@pytest.mark.parametrize(
    ("path", "name", "content_type", "headers"),
    [
        (
            "/webhooks/twilio",  # signs the full URL: the lane reads it as Flask does
            "twilio-whatsapp.form",
            "application/x-www-form-urlencoded",
            {"X-Twilio-Signature": samples.TWILIO_SIGNATURE},
        ),
        (
            "/webhooks/rocketchat",
            "rocketchat/chat-start.json",
            "application/json",
            {"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
        ),
    ],
)
def test_other_receivers_go_through_the_lane(app, client, path, name, content_type, headers):
    with Dispatches(app) as dispatched:
        answer = client.post(
            path, data=samples.raw(name), content_type=content_type, headers=headers
        )
    assert answer.status_code == 200, answer.get_json()
    assert dispatched.count == 0


def test_every_post_receiver_is_in_the_lane(app):
    lane = _lane_of(app)
    posts = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("webhooks.") and "POST" in (rule.methods or ())
    }
    assert set(lane.routes) == posts and len(posts) == 6


def _lane_of(app: Flask):
    from webhooks.lane import Lane

    cells = [c.cell_contents for c in (app.wsgi_app.__closure__ or ())]
    (lane,) = [c for c in cells if isinstance(c, Lane)]
    return lane


def test_what_is_not_usual_is_answered_by_flask(app, client, monkeypatch):
    body = whatsapp_text("wamid.other")
    with Dispatches(app) as dispatched:
        wrong_type = client.post(
            ROUTE, data=body, content_type="text/plain", headers=sign_whatsapp(body)
        )
        forged = client.post(
            ROUTE,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
        )
        monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
        too_long = client.post(
            ROUTE, data=body, content_type="application/json", headers=sign_whatsapp(body)
        )
    assert (wrong_type.status_code, forged.status_code, too_long.status_code) == (415, 401, 413)
    assert forged.get_json()["error"]["code"] == "unauthorized"
    assert dispatched.count == 3


def test_an_error_in_the_lane_is_answered_by_flask_without_running_it_twice(
    app, client, caplog, monkeypatch
):
    calls = []

    def broken(req):
        calls.append(req)
        raise RuntimeError("a parser bug")

    monkeypatch.setattr(whatsapp, "parse", broken)
    body = whatsapp_text("wamid.bug")
    with caplog.at_level(logging.INFO):
        answer = client.post(
            ROUTE, data=body, content_type="application/json", headers=sign_whatsapp(body)
        )
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "The payload could not be read."
    assert len(calls) == 1  # parsed once, by the lane; Flask raised its error again
    failures = [r for r in caplog.records if r.getMessage() == "webhook parser failed"]
    access = [r for r in caplog.records if r.name == "carteras.access"]
    assert len(failures) == 1 and len(access) == 1
    assert access[0].status == 400 and access[0].route == ROUTE
    assert failures[0].request_id is not None  # the lane's app context carries it


def test_a_refused_signature_keeps_its_reason_on_the_one_access_line(app, client, caplog):
    body = whatsapp_text("wamid.forged")
    with caplog.at_level(logging.INFO, logger="carteras.access"):
        client.post(
            ROUTE,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
        )
    (line,) = [r for r in caplog.records if r.name == "carteras.access"]
    assert line.status == 401 and line.provider == "meta" and line.refused


def test_the_lane_writes_the_access_line_of_a_usual_post(app, client, caplog):
    body = whatsapp_text("wamid.logged")
    with caplog.at_level(logging.INFO, logger="carteras.access"):
        answer = client.post(
            ROUTE,
            data=body,
            content_type="application/json",
            headers={**sign_whatsapp(body), "X-Request-ID": "platform-id-7"},
        )
    (line,) = [r for r in caplog.records if r.name == "carteras.access"]
    assert (line.method, line.route, line.status) == ("POST", ROUTE, 200)
    assert line.request_id == answer.headers["X-Request-ID"]
    assert line.client_request_id == "platform-id-7"
    assert (line.provider, line.new, line.duplicates) == ("meta", 1, 0)
    assert line.duration_ms >= 0


def test_the_lane_knows_every_hook_flask_runs_for_a_webhook(app):
    """The lane does for a webhook what these hooks do (webhooks/lane.py, Bookkeeping). A
    hook added to the app must be taught to the lane, or the lane turned off for it: this
    test names them so that adding one fails here first."""
    names = {
        kind: [getattr(f, "__qualname__", repr(f)) for f in hooks.get(None, [])]
        for kind, hooks in (
            ("before", app.before_request_funcs),
            ("after", app.after_request_funcs),
            ("teardown", app.teardown_request_funcs),
            ("url_value", app.url_value_preprocessors),
        )
    }
    assert names == {
        "before": [
            "init_request_logging.<locals>._start",  # observability.begin
            "_skip_for_webhooks.<locals>.pages_and_api",  # not for webhooks
        ],
        "after": [
            "init_request_logging.<locals>._finish",  # observability.log_access
            "init_metrics.<locals>._count",  # Bookkeeping.count
            "_lighten_webhooks.<locals>.pages_only.<locals>.run",  # not for webhooks
            "_lighten_webhooks.<locals>.set_headers",  # Bookkeeping.headers
        ],
        "teardown": [],
        "url_value": [],
    }
    for hooks in (app.before_request_funcs, app.after_request_funcs):
        assert "webhooks" not in hooks


def test_the_embedded_default_starts_its_sweep_on_a_webhook_in_the_lane(backend, app):
    from service.app import create_app
    from tests.conftest import close_served, make_config

    if backend.name != "sqlite":
        pytest.skip("the embedded default is SQLite")
    served = create_app(make_config(f"sqlite:///{backend.file}", jobs_inline=False))
    try:
        body = whatsapp_text("wamid.first")
        answer = served.test_client().post(
            ROUTE, data=body, content_type="application/json", headers=sign_whatsapp(body)
        )
        assert answer.status_code == 200
        assert "carteras.sweep_stop" in served.extensions
    finally:
        close_served(served)
