"""One WhatsApp message alone is stored by one autocommitted statement on a pooled driver
connection, without a session transaction (intake._Fused._run_alone): the same row, answer
and access line as through SQLAlchemy's Connection, committed before the 200, a refused row
stored carefully, a connection lost during the statement answered 503 and never pooled again."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from service.domain import intake
from service.domain.messages import Delivery
from service.extensions import db
from service.models import InboxMessage
from tests.webhooks.conftest import PARSED_AT as NOW
from tests.webhooks.conftest import other_connection, statements, whatsapp_text
from tests.webhooks.conftest import parsed_message as message


@pytest.mark.usefixtures("postgres")
def test_one_message_alone_leaves_no_session_transaction_and_lends_the_connection_back(app):
    with other_connection(app) as other, app.app_context():
        session = db.session()
        accepted = intake.accept(
            session,
            Delivery(messages=(message("wamid.lean"),)),
            region="MX",
            now=NOW,
            careful=False,
            alone=db.engine,
        )
        assert not session.in_transaction()  # nothing for the receiver to commit
        stored = other.execute("SELECT external_id, status FROM inbox_messages").fetchall()
        with db.engine.connect() as conn:  # the pooled connection, as the pool lends it
            assert conn.connection.driver_connection.autocommit is False
            assert conn.exec_driver_sql("SELECT count(*) FROM inbox_messages").scalar() == 1
    assert len(accepted.new_ids) == 1 and stored == [("wamid.lean", "pending")]


@pytest.mark.usefixtures("postgres")
def test_a_refused_message_alone_stores_nothing_and_asks_for_care(app):
    delivery = Delivery(messages=(message("wamid.nul", text="sal\u0000do"),))
    with app.app_context():
        session = db.session()
        with pytest.raises(intake.StoreAgain):
            intake.accept(session, delivery, region="MX", now=NOW, careful=False, alone=db.engine)
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(InboxMessage)) == 0
        again = intake.accept(session, delivery, region="MX", now=NOW, careful=True)
        session.commit()
    assert again.failed == 1


@pytest.mark.usefixtures("postgres")
def test_answers_and_rows_are_those_of_the_sqlalchemy_connection(app, post):
    """The same delivery, first and again, on the lean path and through the Connection."""
    answers = {}
    for lean, name in ((True, "wamid.lean"), (False, "wamid.orm")):
        body = whatsapp_text(name)
        if lean:
            replies = [post.whatsapp(body), post.whatsapp(body)]
        else:
            with statements(app) as seen:
                replies = [post.whatsapp(body), post.whatsapp(body)]
            assert sum("INSERT INTO inbox_messages" in s for s in seen) == 2
        answers[lean] = [
            (
                r.status_code,
                r.get_data(),
                sorted((k, v) for k, v in r.headers.items() if k != "X-Request-ID"),
            )
            for r in replies
        ]
    assert answers[True] == answers[False]
    rows = {r.external_id: r for r in post.rows()}
    # the columns the webhook writes (jobs ran inline since, and wrote their own)
    columns = list(intake._row(message("wamid.columns"), "MX", NOW))
    differ = {"external_id", "payload", "received_at", "updated_at", "status", "attempts"}
    lean, orm = rows["wamid.lean"], rows["wamid.orm"]
    assert {c: getattr(lean, c) for c in columns if c not in differ} == {
        c: getattr(orm, c) for c in columns if c not in differ
    }


@pytest.mark.usefixtures("postgres")
def test_a_connection_lost_during_the_statement_is_a_503_and_is_not_pooled_again(app, post):
    """The insert waits on a conflicting row another transaction holds; its backend is
    ended meanwhile. The platform is told to retry (503), nothing is stored, the dead
    connection is dropped, and the retry is stored once."""
    body = whatsapp_text("wamid.lost")
    answers = []
    with other_connection(app) as holder, other_connection(app) as admin:
        holder.autocommit = False
        holder.execute(
            "INSERT INTO inbox_messages (provider, channel, external_id, kind, "
            "other_identities, attachments, payload, sent_at, received_at, updated_at, "
            "status, attempts) VALUES ('meta', 'whatsapp', 'wamid.lost', 'text', '[]', '[]', "
            "'{}', now(), now(), now(), 'pending', 0)"
        )
        sender = threading.Thread(target=lambda: answers.append(post.whatsapp(body)))
        sender.start()
        deadline, ended = time.monotonic() + 10, []
        while not ended and time.monotonic() < deadline:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND query LIKE 'WITH stored AS%'"
            ).fetchall()
            time.sleep(0.02)
        sender.join(10)
        holder.rollback()
    assert ended and answers
    assert answers[0].status_code == 503 and answers[0].headers["Retry-After"] == "1"
    assert answers[0].json["error"]["code"] == "unavailable"
    assert post.count(InboxMessage) == 0
    with app.app_context():
        assert db.engine.pool.checkedout() == 0
    retried = post.whatsapp(body)
    assert retried.status_code == 200 and retried.json["accepted"] == 1
    assert post.count(InboxMessage) == 1


def test_webhooks_skip_the_socketio_middleware_and_socketio_still_answers(client, post):
    assert post.whatsapp(whatsapp_text("wamid.direct")).status_code == 200
    handshake = client.get("/socket.io/?EIO=4&transport=polling")
    assert handshake.status_code == 200 and handshake.get_data().startswith(b"0{")
