"""What storing a delivery answers and keeps (service/domain/intake.py ``accept``): each
message once, echoes for the record only, receipts once each, and a message or receipt the
database refuses kept apart with its reason, while a database that is down fails the whole
delivery (the platform retries it)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.domain import intake
from service.domain.messages import Delivery, Identity, InboundMessage, StatusUpdate
from service.extensions import db
from service.models import Contact, ContactIdentity, DeliveryStatus, InboxMessage

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # the service's clock, not the wall clock
SENT = NOW - timedelta(minutes=1)


def message(external_id: str, kind: str = "text", text: str = "Hola", **fields):
    sender = Identity("phone", "+5215512345678", "+5215512345678")
    return InboundMessage(
        channel="whatsapp",
        provider="meta",
        external_id=external_id,
        sender=fields.pop("sender", sender),
        sent_at=SENT,
        kind=kind,
        text=text,
        **fields,
    )


def receipt(message_id: str, status: str = "delivered", **fields) -> StatusUpdate:
    return StatusUpdate(
        provider="meta", message_id=message_id, status=status, occurred_at=SENT, **fields
    )


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session()
        db.session.rollback()


def accept(session, *items, region="MX"):
    delivery = Delivery(
        messages=tuple(i for i in items if isinstance(i, InboundMessage)),
        statuses=tuple(i for i in items if isinstance(i, StatusUpdate)),
    )
    return intake.accept(session, delivery, region=region, now=NOW)


def rows(session) -> dict[str, InboxMessage]:
    session.flush()
    return {r.external_id: r for r in session.scalars(sa.select(InboxMessage))}


def test_a_delivery_answers_what_became_of_each_item(session):
    first = accept(session, message("wamid.1"))
    assert (first.new_ids, first.duplicates, first.ignored, first.statuses, first.failed) == (
        [rows(session)["wamid.1"].id],
        0,
        0,
        0,
        0,
    )
    accepted = accept(
        session,
        message("wamid.1"),  # delivered again
        message("wamid.2"),
        message("rc.echo.1", kind="echo"),  # our own messages, echoed back
        message("rc.echo.2", kind="echo"),
        message("wamid.3"),
        receipt("wamid.out.1"),
        receipt("wamid.out.1", status="read"),
        receipt("wamid.out.1"),  # the same receipt again
    )
    stored = rows(session)
    assert accepted.new_ids == [stored["wamid.2"].id, stored["wamid.3"].id]
    assert (accepted.duplicates, accepted.ignored, accepted.statuses, accepted.failed) == (
        1,
        2,
        2,
        0,
    )
    assert [stored[k].status for k in ("wamid.2", "rc.echo.1", "rc.echo.2")] == [
        "pending",
        "ignored",
        "ignored",
    ]


def test_phones_are_stored_in_the_services_region(session):
    national = Identity("phone", "55 1234 5678", "55 1234 5678")
    accept(session, message("wamid.mx", sender=national, thread_key="55 1234 5678"))
    row = rows(session)["wamid.mx"]
    assert (row.sender_value, row.sender_raw, row.thread_key) == (
        "+525512345678",
        "55 1234 5678",
        "+525512345678",
    )


def test_messages_the_database_refuses_are_kept_failed_with_the_reason(session, backend):
    # PostgreSQL refuses NUL in text, SQLite's driver a lone surrogate.
    bad = "sal\u0000do" if backend.name == "postgresql" else "sal\ud800do"
    accepted = accept(
        session,
        message("wamid.bad1", text=bad),
        message("wamid.ok"),
        message("wamid.bad2", text=bad),
    )
    stored = rows(session)
    assert (accepted.failed, accepted.new_ids) == (2, [stored["wamid.ok"].id])
    for key in ("wamid.bad1", "wamid.bad2"):
        failed = stored[key]
        assert (failed.status, failed.text, failed.received_at) == ("failed", None, NOW)
        assert failed.last_error == failed.payload["refused"]
        assert failed.last_error.startswith("not stored: ")


def test_the_fast_path_stores_nothing_of_a_refused_delivery_and_asks_for_care(session, backend):
    """Without savepoints (the webhook's first try) a refused row cannot be kept alone: the
    caller is told to roll back and store the whole delivery again, carefully."""
    bad = "sal\u0000do" if backend.name == "postgresql" else "sal\ud800do"
    delivery = Delivery(messages=(message("wamid.fine"), message("wamid.bad", text=bad)))
    with pytest.raises(intake.StoreAgain):
        intake.accept(session, delivery, region="MX", now=NOW, careful=False)
    session.rollback()
    assert rows(session) == {}
    again = intake.accept(session, delivery, region="MX", now=NOW, careful=True)
    assert (again.failed, len(again.new_ids)) == (1, 1)
    fast = intake.accept(
        session, Delivery(messages=(message("wamid.next"),)), region="MX", now=NOW, careful=False
    )
    assert len(fast.new_ids) == 1 and set(rows(session)) == {
        "wamid.fine",
        "wamid.bad",
        "wamid.next",
    }


def test_the_reason_kept_is_one_ascii_line_naming_the_error(session, monkeypatch):
    real_row = intake._row

    def refusing(message, region, now):
        if message.external_id == "wamid.refused":
            raise ValueError("valor no válido\nsecond line " + "x" * 3000)
        return real_row(message, region, now)

    monkeypatch.setattr(intake, "_row", refusing)
    accepted = accept(session, message("wamid.refused"), message("wamid.ok"))
    assert accepted.failed == 1 and len(accepted.new_ids) == 1
    reason = rows(session)["wamid.refused"].last_error
    assert reason == "not stored: ValueError: valor no v\\xe1lido"
    long_line = "y" * 3000

    def refusing_long(message, region, now):
        raise ValueError(long_line)

    monkeypatch.setattr(intake, "_row", refusing_long)
    accept(session, message("wamid.long"))
    reason = rows(session)["wamid.long"].last_error
    assert len(reason) == 2000 and reason == ("not stored: ValueError: " + long_line)[:2000]


def test_a_database_that_is_down_fails_the_delivery(session, monkeypatch):
    down = sa.exc.OperationalError("INSERT", {}, ConnectionError("server closed"))

    def failing(*args, **kwargs):
        raise down

    monkeypatch.setattr(intake, "_row", failing)
    with pytest.raises(sa.exc.OperationalError):
        accept(session, message("wamid.1"))
    monkeypatch.undo()
    real_store = intake._store

    def failing_receipts(session, statement, row, careful):
        if not row:  # a receipt's statement carries its values
            raise down
        return real_store(session, statement, row, careful)

    monkeypatch.setattr(intake, "_store", failing_receipts)
    with pytest.raises(sa.exc.OperationalError):
        accept(session, message("wamid.2"), receipt("wamid.out.1"))


def test_receipts_are_stored_whole_and_a_refused_one_is_skipped(session, backend):
    bad = "wamid.\u0000" if backend.name == "postgresql" else "wamid.\ud800"
    errors = ({"code": 131047, "title": "Re-engagement message"},)
    accepted = accept(
        session,
        receipt("wamid.out.1", status="failed", recipient="5215512345678", errors=errors),
        receipt(bad),
        receipt("wamid.out.2"),
    )
    assert accepted.statuses == 2
    stored = session.execute(
        sa.select(
            DeliveryStatus.message_id,
            DeliveryStatus.status,
            DeliveryStatus.recipient,
            DeliveryStatus.errors,
            DeliveryStatus.occurred_at,
            DeliveryStatus.received_at,
        ).order_by(DeliveryStatus.id)
    ).all()
    assert stored == [
        ("wamid.out.1", "failed", "5215512345678", list(errors), SENT, NOW),
        ("wamid.out.2", "delivered", None, [], SENT, NOW),
    ]


def test_over_long_receipt_fields_are_cut_to_their_columns(session):
    columns = DeliveryStatus.__table__.c
    long = receipt("m" * 400, status="s" * 50, recipient="r" * 400)
    long = StatusUpdate(
        provider="p" * 30,
        message_id=long.message_id,
        status=long.status,
        occurred_at=SENT,
        recipient=long.recipient,
    )
    assert accept(session, long).statuses == 1
    row = session.scalars(sa.select(DeliveryStatus)).one()
    assert (len(row.provider), len(row.message_id), len(row.status), len(row.recipient)) == (
        columns.provider.type.length,
        columns.message_id.type.length,
        columns.status.type.length,
        columns.recipient.type.length,
    )


def test_the_owner_lookup_flushes_first_and_matches_each_written_form(session):
    """find_contact_id runs one prebuilt Core query: like the ORM select it replaced, it
    sees a handle added in this transaction and not flushed yet (the session autoflushes
    Core statements too), and an Argentine mobile written without its 9 finds the line
    stored with it."""
    ana = Contact(
        name="Ana",
        search_key="ana",
        identities=[ContactIdentity(kind="phone", value="+5491123456789")],
    )
    session.add(ana)
    written = Identity("phone", "+541123456789", "+54 11 2345-6789")
    found = intake.find_contact_id(session, [written])
    assert found is not None and found == ana.id
    unknown = Identity("phone", "+525599999999", "+525599999999")
    assert intake.find_contact_id(session, [unknown]) is None
    assert intake.find_contact_id(session, [unknown, written]) == ana.id


def test_the_fused_insert_names_every_column_a_stored_row_has():
    """The webhook's one-statement insert on PostgreSQL is written out (intake._Fused._insert):
    a column _row fills and the statement forgot would be dropped."""
    row = intake._row(message("wamid.columns"), "MX", datetime.now(UTC))
    sql = "".join(
        ast.literal_eval(node)
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(intake._Fused._insert))))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    named = sql.split("inbox_messages (", 1)[1].split(")", 1)[0]
    assert [c.strip() for c in named.split(",")] == list(row)
    assert all(f"%({column})s" in sql for column in row)
