"""What the webhook's fast acknowledgement keeps (issue 14): the row stored by one statement
that commits on its own and wakes the dispatchers, a pooled connection that died while idle
replaced without a failed webhook, one access line per webhook, and the security headers."""

from __future__ import annotations

import logging
import select
import time

import sqlalchemy as sa

from service.app import create_app
from service.domain import intake
from service.domain.messages import Delivery
from service.extensions import db
from service.models import InboxMessage
from tests.conftest import make_config
from tests.webhooks.conftest import PARSED_AT as NOW
from tests.webhooks.conftest import other_connection, postgres_only, whatsapp_text
from tests.webhooks.conftest import parsed_message as message


def test_one_message_alone_is_committed_by_its_statement_and_notifies(app, backend):
    postgres_only(backend)
    with other_connection(app) as listener, other_connection(app) as other:
        listener.execute(f"LISTEN {intake.INBOX_CHANNEL}")
        with app.app_context():
            session = db.session()
            one = Delivery(messages=(message("wamid.alone"),))
            accepted = intake.accept(
                session, one, region="MX", now=NOW, careful=False, notify=True, alone=db.engine
            )
            # seen from another connection before this session commits: already durable
            stored = other.execute(
                "SELECT status, sender_value, thread_key, payload::text FROM inbox_messages"
            ).fetchall()
            again = intake.accept(
                session, one, region="MX", now=NOW, careful=False, notify=True, alone=db.engine
            )
            session.rollback()  # nothing left to roll back
        notified = [n.channel for n in listener.notifies(timeout=1, stop_after=2)]
    assert len(accepted.new_ids) == 1 and again.duplicates == 1 and not again.new_ids
    assert stored == [
        ("pending", "+525512345678", "+525512345678", '{"message": {"id": "wamid.alone"}}')
    ]
    assert notified == [intake.INBOX_CHANNEL]  # the duplicate woke nobody


def test_a_delivery_of_several_messages_stays_one_transaction(app, backend):
    postgres_only(backend)
    with other_connection(app) as other, app.app_context():
        session = db.session()
        two = Delivery(messages=(message("wamid.a"), message("wamid.b")))
        accepted = intake.accept(session, two, region="MX", now=NOW, careful=False, alone=db.engine)
        before_commit = other.execute("SELECT count(*) FROM inbox_messages").fetchone()
        session.commit()
        after_commit = other.execute("SELECT count(*) FROM inbox_messages").fetchone()
    assert len(accepted.new_ids) == 2 and before_commit == (0,) and after_commit == (2,)


def test_an_echo_is_stored_for_the_record_and_wakes_nobody(app, backend):
    postgres_only(backend)
    with other_connection(app) as listener:
        listener.execute(f"LISTEN {intake.INBOX_CHANNEL}")
        with app.app_context():
            session = db.session()
            echo = Delivery(messages=(message("wamid.echo", kind="echo"),))
            accepted = intake.accept(
                session, echo, region="MX", now=NOW, careful=False, notify=True, alone=db.engine
            )
            session.commit()
        notified = list(listener.notifies(timeout=0.5, stop_after=1))
    assert (accepted.ignored, accepted.new_ids, notified) == (1, [], [])


def test_a_pooled_connection_that_died_idle_is_replaced_without_a_failed_webhook(
    app, backend, post
):
    """A PostgreSQL restart ends every pooled connection while it waits in the pool; the
    next webhook must still be stored and answered 200 (no pre-ping round trip for it)."""
    postgres_only(backend)
    first = whatsapp_text("wamid.before", sender="5215512345678")
    assert post.whatsapp(first).status_code == 200
    with app.app_context():
        pooled = db.engine.pool.checkedin()
    assert pooled >= 1
    with other_connection(app) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # pg_terminate_backend only signals them
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            if left == (0,):
                break
            time.sleep(0.05)
    assert ended and left == (0,)
    after = whatsapp_text("wamid.after", sender="5215512345678")
    response = post.whatsapp(after)
    assert response.status_code == 200 and response.json["accepted"] == 1
    assert [r.external_id for r in post.rows()] == ["wamid.before", "wamid.after"]


def test_a_webhook_is_one_access_line_with_its_counts(post, caplog):
    caplog.set_level(logging.INFO)
    body = whatsapp_text("wamid.logged")
    assert post.whatsapp(body).status_code == 200
    assert post.whatsapp(body).status_code == 200  # a redelivery
    lines = [r for r in caplog.records if r.name in ("carteras.access", "webhooks.receivers")]
    assert [r.name for r in lines] == ["carteras.access", "carteras.access"]
    assert [(r.route, r.status, r.provider, r.new, r.duplicates) for r in lines] == [
        ("/webhooks/whatsapp", 200, "meta", 1, 0),
        ("/webhooks/whatsapp", 200, "meta", 0, 1),
    ]


def test_a_refused_signature_is_one_access_line_with_the_reason(post, caplog):
    caplog.set_level(logging.INFO)
    body = whatsapp_text("wamid.forged")
    assert post.whatsapp(body, {"X-Hub-Signature-256": "sha256=00"}).status_code == 401
    lines = [r for r in caplog.records if r.name in ("carteras.access", "webhooks.receivers")]
    assert [(r.name, r.status, r.provider) for r in lines] == [("carteras.access", 401, "meta")]
    assert "X-Hub-Signature-256" in lines[0].refused
    assert post.count(InboxMessage) == 0


def test_webhook_answers_carry_the_security_headers_and_no_session(client, post):
    page = client.get("/ingresar")
    for _ in range(2):  # the first answer computes them, the next copies them
        answer = post.whatsapp(whatsapp_text(f"wamid.h{_}"))
        assert answer.status_code == 200
        for name in (
            "Content-Security-Policy",
            "X-Frame-Options",
            "X-Content-Type-Options",
            "Referrer-Policy",
            "Permissions-Policy",
        ):
            assert answer.headers[name] == page.headers[name], name
        assert "Set-Cookie" not in answer.headers and "Vary" not in answer.headers
        assert answer.headers["X-Request-ID"]


def test_a_webhook_over_https_gets_hsts_when_secure_cookies_are_on(backend):
    url = str(backend.app.config["SQLALCHEMY_DATABASE_URI"])
    client = create_app(make_config(url, secure_cookies=True)).test_client()
    for _ in range(2):  # computed for the first, copied for the next
        plain = client.post("/webhooks/whatsapp", data=b"{}", content_type="application/json")
        secure = client.post(
            "/webhooks/whatsapp",
            data=b"{}",
            content_type="application/json",
            base_url="https://localhost",
        )
        assert "Strict-Transport-Security" not in plain.headers
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_stored_row_matches_what_the_orm_statement_stores(app, backend):
    """The fast path binds values itself: the row must read back as the careful path's."""
    postgres_only(backend)
    with app.app_context():
        session = db.session()
        for careful, external_id in ((False, "wamid.fast"), (True, "wamid.careful")):
            delivery = Delivery(messages=(message(external_id),))
            intake.accept(session, delivery, region="MX", now=NOW, careful=careful)
        session.commit()
        rows = {
            r.external_id: r
            for r in session.scalars(sa.select(InboxMessage).order_by(InboxMessage.id))
        }
        skip = {"id", "external_id", "payload"}
        columns = [c.key for c in InboxMessage.__table__.columns if c.key not in skip]
        fast, careful_row = rows["wamid.fast"], rows["wamid.careful"]
        assert {c: getattr(fast, c) for c in columns} == {
            c: getattr(careful_row, c) for c in columns
        }
        assert fast.payload == {"message": {"id": "wamid.fast"}}
        assert fast.received_at == NOW and fast.sent_at.tzinfo is not None


def test_a_pooled_connection_with_something_to_read_is_pinged_and_kept(app, backend):
    """Something arrived on an idle pooled connection that is alive (here a notification):
    it is pinged, and kept."""
    postgres_only(backend)
    with app.app_context():
        engine = db.engine
        engine.dispose()
        with engine.connect() as conn:
            conn.exec_driver_sql("LISTEN carteras_test")
            conn.commit()
            first = conn.connection.dbapi_connection
        with other_connection(app) as other:
            other.execute("NOTIFY carteras_test")
        readable = select.select([first.fileno()], [], [], 10)[0]  # the notification is there
        with engine.connect() as conn:
            assert readable and conn.connection.dbapi_connection is first
            assert conn.exec_driver_sql("SELECT 2").scalar() == 2
            conn.exec_driver_sql("UNLISTEN *")
            conn.commit()
        engine.dispose()
