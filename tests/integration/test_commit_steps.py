"""The routing job's steps commit without waiting for the disk (PostgreSQL's asynchronous
commit, ``runtime.commit_step``), and its last commit waits for it, so that a job that ends
has every step durable. A step is seen by every other transaction at once, and leaves
nothing behind on the pooled connection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.jobs import runtime
from service.models import Conversation, InboxMessage
from tests.webhooks.conftest import STEP, other_connection, transactions, whatsapp_text

PHONE = "5215512345678"  # Lucía, of Luis's Premium cartera (the org fixture)


CLAIM = "attempts=(inbox_messages.attempts +"  # the claim's compare-and-set


def _with(seen: list[list[str]], part: str) -> list[str]:
    """The one transaction with a statement holding *part*."""
    (found,) = [t for t in seen if any(part in s for s in t)]
    return found


@pytest.mark.usefixtures("rc", "org")
def test_a_new_conversations_steps_do_not_wait_for_the_disk_and_its_end_does(app, backend, post):
    with transactions(app) as seen:
        post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola"))
    (row,) = post.rows()
    assert row.status == "processed" and row.conversation_id is not None
    claim = _with(seen, CLAIM)
    started = _with(seen, "INSERT INTO conversations")
    job = [t for t in seen if t]
    last = job[-1]
    if backend.name == "postgresql":
        # the claim and the new conversation: steps, each asynchronous up to its commit
        assert claim[-1] == STEP and STEP in started
        # the row's end: the job's last commit, durable, and with it every step before
        assert STEP not in last and any("inbox_messages" in s for s in last)
    else:
        assert all(STEP not in t for t in job)


@pytest.mark.usefixtures("rc", "org")
def test_a_next_messages_claim_is_a_step_and_its_end_durable(app, backend, post):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola", timestamp=1763809200))
    with transactions(app) as seen:
        post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="Sigo", timestamp=1763809260))
    first, second = post.rows()
    assert second.status == "processed" and second.conversation_id == first.conversation_id
    job = [t for t in seen if t]
    steps = [t for t in job if STEP in t]
    if backend.name == "postgresql":
        assert steps == [_with(seen, CLAIM)]
        assert STEP not in job[-1]
    else:
        assert steps == []


def test_a_step_is_seen_at_once_and_leaves_the_connection_as_it_was(app, backend, post):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola"))
    (row,) = post.rows()
    with app.app_context():
        session = db.session()
        stored = session.get(InboxMessage, row.id)
        assert stored is not None
        stored.text = "paso"
        runtime.commit_step(session)
        if backend.name != "postgresql":
            return
        with other_connection(app) as other:
            (text,) = other.execute(
                "SELECT text FROM inbox_messages WHERE id = %s", (row.id,)
            ).fetchone()
        assert text == "paso"
        # SET LOCAL ended with its transaction: the next one commits durably again
        assert session.execute(sa.text("SHOW synchronous_commit")).scalar() == "on"
        session.rollback()


@pytest.mark.usefixtures("org")
def test_steps_a_database_crash_forgot_are_done_again_without_doubling_anything(app, rc, post):
    """What a crash of the database server can cost an asynchronous step: the job's claim
    and its new conversation forgotten, while Rocket.Chat already has the visitor, the room,
    the message and its tags. The job runs again from its stored message (here: its row
    put back as the crash would leave it, and replayed): the same visitor, room and message,
    no second forward, and the conversation recorded again with that room."""
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="Hola"))
    (row,) = post.rows()
    assert row.status == "processed"
    room_id = rc.messages[0]["rid"]
    assert rc.rooms[room_id]["servedBy"]["_id"] == "u-luis"
    calls = {p: len(rc.calls_to(p)) for p in ("livechat/visitor", "livechat/room")}
    with app.app_context():  # the steps forgotten: no conversation, the row not yet routed
        session = db.session()
        session.execute(
            sa.update(InboxMessage)
            .where(InboxMessage.id == row.id)
            .values(status="failed", conversation_id=None, rc_message_id=None)
        )
        session.execute(sa.delete(Conversation))
        session.commit()
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    (again,) = post.rows()
    assert again.status == "processed"
    assert len(rc.visitors) == 1 and len(rc.rooms) == 1 and len(rc.messages) == 1
    assert len(rc.calls_to("livechat/visitor")) == calls["livechat/visitor"] + 1  # the same one
    assert len(rc.calls_to("livechat/room")) == calls["livechat/room"] + 1  # answered again
    assert rc.forwards == []  # opened with its owner: nothing to forward, then or now
    with app.app_context():
        (conversation,) = db.session.scalars(sa.select(Conversation))
        assert conversation.rc_room_id == room_id and conversation.status == "open"
        assert again.conversation_id == conversation.id
        assert rc.rooms[room_id]["servedBy"]["_id"] == "u-luis"
