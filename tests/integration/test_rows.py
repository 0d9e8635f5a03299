"""Rows read and written below the ORM (service/domain/rows.py) leave the session as the ORM
would: a persistent object as if loaded, and, once its changes are written, nothing left for
the flush. And the routing job's end writes the conversation in the row's statement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.domain import conversations as convs
from service.domain import intake, rows
from service.extensions import db
from service.models import Contact, Conversation, InboxMessage
from tests.webhooks.conftest import statements, whatsapp_text

PHONE = "5215512345678"
_INBOX = InboxMessage.__table__


@pytest.fixture
def stored(post) -> InboxMessage:
    """A customer's message, stored (and routed) through the webhook, as read back."""
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola"))
    (row,) = post.rows()
    return row


def _read(session: Session, inbox_id: int) -> sa.RowMapping:
    return (
        session.connection()
        .execute(sa.select(*_INBOX.c).where(_INBOX.c.id == inbox_id))
        .one()
        ._mapping
    )


def test_an_adopted_row_is_the_object_the_orm_would_have_loaded(app, stored):
    with app.app_context():
        session = db.session()
        row = rows.adopt(session, InboxMessage, _read(session, stored.id))
        state = sa.inspect(row)
        assert state.persistent and not state.modified and row not in session.dirty
        assert session.get(InboxMessage, stored.id) is row  # in the identity map
        for column in _INBOX.c:
            assert getattr(row, column.key) == getattr(stored, column.key), column.key
        with statements(app) as seen:
            session.commit()
        assert not any(s.startswith(("UPDATE", "INSERT")) for s in seen)


def test_an_object_in_the_session_is_kept_unless_populate_existing(app, stored):
    with app.app_context():
        session = db.session()
        loaded = session.get(InboxMessage, stored.id)
        assert loaded is not None
        session.connection().execute(
            sa.update(_INBOX).where(_INBOX.c.id == stored.id).values(text="cambiado")
        )
        read = _read(session, stored.id)
        assert rows.adopt(session, InboxMessage, read) is loaded
        assert loaded.text == "Hola"  # as a query without populate_existing
        assert rows.adopt(session, InboxMessage, read, populate_existing=True) is loaded
        assert loaded.text == "cambiado" and not sa.inspect(loaded).modified
        session.rollback()


def test_changes_written_below_the_orm_leave_nothing_to_flush(app, post, stored):
    with app.app_context():
        session = db.session()
        row = session.get(InboxMessage, stored.id)
        assert row is not None
        assert rows.changes(row) == {}
        row.text = "editado"
        changed = rows.changes(row)
        # the flush writes updated_at (onupdate) with any change: so do the changes
        assert set(changed) == {"text", "updated_at"} and changed["text"] == "editado"
        assert changed["updated_at"] > stored.updated_at
        session.connection().execute(sa.update(_INBOX).where(_INBOX.c.id == row.id).values(changed))
        rows.written(session, row, changed)
        assert not sa.inspect(row).modified and row not in session.dirty
        with statements(app) as seen:
            session.commit()
        assert not any(s.startswith("UPDATE") for s in seen)  # not written twice
    (again,) = post.rows()
    assert (again.text, again.updated_at) == ("editado", changed["updated_at"])


@pytest.mark.usefixtures("rc", "org")
def test_a_next_message_writes_its_conversation_with_the_rows_end(app, backend, post, now_clock):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola", timestamp=1763809200))
    now_clock.current = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    with statements(app) as seen:
        post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="Sigo", timestamp=1763809260))
    first, second = post.rows()
    assert (first.status, second.status) == ("processed", "processed")
    with app.app_context():
        (conv,) = db.session.scalars(sa.select(Conversation))
        assert conv.last_message_at == now_clock.current
        assert second.conversation_id == conv.id
    updates = [s for s in seen if "UPDATE conversations" in s]
    if backend.name == "postgresql":  # one statement ends the row and writes the conversation
        (fused,) = updates
        assert fused.startswith("WITH conversation_written AS (UPDATE conversations SET")
    else:  # SQLite has no data-modifying WITH: the session's flush writes it
        assert [s.split(" SET")[0] for s in updates] == ["UPDATE conversations"]


@pytest.mark.usefixtures("rc", "org")
def test_a_returning_customer_is_read_with_its_owner_lookup(app, post):
    """The owner look-up reads the winning contact's row and its open conversation of the
    thread too: neither is read again, and the job holds what is stored."""
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola", timestamp=1763809200))
    with statements(app) as seen:
        post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="Sigo", timestamp=1763809260))
    reads = [
        s for s in seen if s.startswith("SELECT") and ("FROM contact" in s or "FROM conv" in s)
    ]
    (lookup,) = reads  # the contact and its open conversation come with the owner look-up
    assert "FROM contact_identities JOIN contacts ON contacts.id = " in lookup
    assert "LEFT OUTER JOIN conversations ON conversations.contact_id = " in lookup
    first, second = post.rows()
    assert second.status == "processed" and second.contact_id == first.contact_id
    assert second.conversation_id == first.conversation_id is not None
    with app.app_context():
        contact = db.session.get(Contact, second.contact_id)
        assert contact is not None and contact.name


@pytest.mark.usefixtures("rc", "org")
def test_an_open_conversation_read_with_the_contact_holds_for_its_transaction_only(app, post):
    """What the owner look-up read of a thread's open conversation answers find_open once,
    for that contact and thread, in that transaction; anything else is read again."""
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola", timestamp=1763809200))
    (stored,) = post.rows()
    with app.app_context():
        session = db.session()
        row = session.get(InboxMessage, stored.id)
        assert row is not None and row.thread_key
        channel, thread = row.channel, row.thread_key
        contact, created = intake.resolve_contact(session, row)
        assert contact is not None and not created
        with statements(app) as seen:
            found = convs.find_open(session, contact.id, channel, thread)
        assert found is not None and found.id == stored.conversation_id and seen == []
        with statements(app) as seen:  # once: asked again, it is read
            assert convs.find_open(session, contact.id, channel, thread) is found
        assert len(seen) == 1
        intake.resolve_contact(session, row)
        with statements(app) as seen:  # another thread: read
            assert convs.find_open(session, contact.id, channel, "otro") is None
        assert len(seen) == 1
        intake.resolve_contact(session, row)
        session.commit()
        with statements(app) as seen:  # another transaction: read
            assert convs.find_open(session, contact.id, channel, thread) is found
        assert len(seen) == 1
