"""The order of a conversation's messages (domain rule 8): a message goes through only when
every earlier message of its thread has, whatever the number of workers, retries and sweeps.

Mechanism: each message's job checks, under a per-thread lock, whether an earlier message of
the same thread (provider timestamp, then arrival) has not gone through yet. If one has not,
the message is *deferred* (``waiting`` with no time) and its job ends; the job that finishes
the earlier message takes the same lock and hands the next deferred one to the queue. The
lock is PostgreSQL's transaction-scoped advisory lock on the thread, so the check and the
hand-over cannot interleave across processes and machines; SQLite has one writer, and the
write that opens the transaction serializes it. A message that ends ``failed`` keeps its
successors waiting until it is replayed or skipped (``flask inbox skip``), so nothing is shown
out of order and a poison message is visible, never silently passed.
Must not import Flask, an HTTP client or the queue.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import String, Table, bindparam, func, literal, select, update
from sqlalchemy.orm import Session

from service.domain import audit, intake, rows
from service.domain.access import require_manager
from service.domain.actor import Actor
from service.domain.errors import Conflict, NotFound
from service.models import Conversation, InboxMessage

# Not gone through yet: every earlier message in one of these holds the thread.
UNFINISHED: Final = ("pending", "queued", "waiting", "processing", "failed")


def _lock_key(channel: Any, thread_key: Any) -> Any:
    """The thread's advisory lock key: the same for a key written here and one computed in
    SQL from the row (``'inbox:' || channel || ':' || thread_key``)."""
    return func.hashtextextended(
        func.concat(literal("inbox:"), channel, literal(":"), thread_key), 0
    )


_LOCK_THREAD: Final = select(
    func.pg_advisory_xact_lock(
        _lock_key(bindparam("channel", type_=String()), bindparam("thread", type_=String()))
    )
)


# The job's own statements run on the session's connection (Core): through the session, each
# paid its ORM execution path (and a table-based UPDATE the ORM's bulk path) for nothing.
def _advisory_lock(session: Session, channel: str, thread_key: str) -> None:
    session.connection().execute(_LOCK_THREAD, {"channel": channel, "thread": thread_key})


# The row's thread read and its lock taken in one statement (lock_thread_of).
_LOCK_THREAD_OF: Final = select(
    func.pg_advisory_xact_lock(
        _lock_key(InboxMessage.__table__.c.channel, InboxMessage.__table__.c.thread_key)
    )
).where(
    InboxMessage.__table__.c.id == bindparam("inbox_id"),
    InboxMessage.__table__.c.thread_key.is_not(None),
)


def lock_thread_of(session: Session, inbox_id: int) -> None:
    """Before a job claims message *inbox_id*: hold its thread's lock until the transaction
    ends, so that the claim and the order check share one transaction (taken in the same
    order as :func:`lock_thread`, thread then row, so two jobs never wait on each other).
    On SQLite the claim's own write takes the database's one write lock."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    connection.execute(_LOCK_THREAD_OF, {"inbox_id": inbox_id})


def lock_thread(session: Session, row: InboxMessage) -> None:
    """Hold the thread's lock until the transaction ends."""
    if row.thread_key is None:
        return
    if session.connection().dialect.name == "postgresql":
        _advisory_lock(session, row.channel, row.thread_key)
    else:  # SQLite: the first write takes the database's one write lock
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.id == row.id)
            .values(updated_at=InboxMessage.updated_at)
        )


# Built once on the table (the job runs them for every message; building an ORM select per
# call cost about as much as running it).
_INBOX = InboxMessage.__table__.c
_CLAIMED = InboxMessage.__table__
_EARLIER = _CLAIMED.alias("earlier")
_HOLDING_BACK = (  # an earlier message of the claimed row's thread, not gone through
    (_EARLIER.c.channel == _CLAIMED.c.channel)
    & (_EARLIER.c.thread_key == _CLAIMED.c.thread_key)
    & _EARLIER.c.status.in_(UNFINISHED)
    & (
        (_EARLIER.c.sent_at < _CLAIMED.c.sent_at)
        | ((_EARLIER.c.sent_at == _CLAIMED.c.sent_at) & (_EARLIER.c.id < _CLAIMED.c.id))
    )
)
# The earliest of them, read by the claim itself (its RETURNING, correlated with the row it
# updates), after the thread's lock (lock_thread_of): one round trip for both.
_BLOCKER_OF_CLAIMED: Final = (
    select(_EARLIER.c.id)
    .where(_HOLDING_BACK)
    .order_by(_EARLIER.c.sent_at, _EARLIER.c.id)
    .limit(1)
    .correlate(_CLAIMED)
    .scalar_subquery()
)
# SQLite's compiler writes RETURNING's columns unqualified (the subquery would compare each
# column with itself): there, the claimed row is read again by id, after the claim.
_BLOCKER_OF_ID: Final = (
    select(_EARLIER.c.id)
    .where(_CLAIMED.c.id == bindparam("inbox_id"), _HOLDING_BACK)
    .order_by(_EARLIER.c.sent_at, _EARLIER.c.id)
    .limit(1)
)
_CLAIM_IN_ORDER: Final = intake.CLAIM.returning(_BLOCKER_OF_CLAIMED)


def _next_deferred_in(table: Any, channel: Any, thread: Any) -> Any:
    """The earliest message of the thread (*channel*, *thread*) deferred behind the others,
    read from *table* (the inbox, or an alias of it)."""
    return (
        select(table.c.id)
        .where(
            table.c.channel == channel,
            table.c.thread_key == thread,
            table.c.status == "waiting",
            table.c.not_before.is_(None),
        )
        .order_by(table.c.sent_at, table.c.id)
        .limit(1)
    )


_NEXT_DEFERRED: Final = _next_deferred_in(
    InboxMessage.__table__, bindparam("channel"), bindparam("thread")
)


def claim(session: Session, inbox_id: int, now: datetime) -> tuple[InboxMessage, int | None] | None:
    """Take message *inbox_id* for processing (``intake.claim``'s compare-and-set), with the
    earliest earlier message of its thread that has not gone through, if any (it holds this
    one back), in the same statement; None when another job has the row or it is done.
    Called under the thread's lock (:func:`lock_thread_of`), in the same transaction."""
    params = {"inbox_id": inbox_id, "now": now}
    # Run on the session's connection and the row made into the mapped object by
    # rows.adopt: the ORM's bulk UPDATE path and its loading of the returned row cost the
    # job about twice the statement's own CPU.
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        found = connection.execute(intake.CLAIM, params).one_or_none()
        if found is None:
            return None
        row = rows.adopt(session, InboxMessage, found._mapping, populate_existing=True)
        return row, session.scalar(_BLOCKER_OF_ID, params)
    found = connection.execute(_CLAIM_IN_ORDER, params).one_or_none()
    if found is None:
        return None
    row = rows.adopt(session, InboxMessage, found._mapping, populate_existing=True)
    return row, cast("int | None", found[-1])


def defer(row: InboxMessage, blocked_by: int, now: datetime) -> None:
    """Wait for *blocked_by*: no time of its own, the try not counted."""
    row.status = "waiting"
    row.not_before = None
    row.last_error = f"after message {blocked_by} of the same conversation"
    row.attempts = max(row.attempts - 1, 0)
    row.updated_at = now


def next_deferred(session: Session, row: InboxMessage) -> int | None:
    """The earliest message of *row*'s thread deferred behind the others."""
    if row.thread_key is None:
        return None
    thread = {"channel": row.channel, "thread": row.thread_key}
    return cast("int | None", session.scalar(_NEXT_DEFERRED, thread))


# The row's end, and the earliest message of its thread deferred behind it, in one statement
# (RETURNING: the job holds the thread's lock, so no deferral is missed). The thread comes
# as parameters, not from the updated row: SQLite's compiler writes RETURNING's columns
# unqualified, which inside this subquery name the deferred row's own (its one table).
_FINISH_IN_ORDER: Final = (
    update(cast(Table, InboxMessage.__table__))
    .where(_INBOX.id == bindparam("inbox_id"))
    .values(
        status="processed",
        processed_at=bindparam("now"),
        updated_at=bindparam("now"),
        last_error=None,
        contact_id=bindparam("to_contact_id"),
        conversation_id=bindparam("to_conversation_id"),
        rc_message_id=bindparam("to_rc_message_id"),
    )
    .returning(
        _next_deferred_in(
            InboxMessage.__table__.alias("later"), bindparam("of_channel"), bindparam("of_thread")
        ).scalar_subquery()
    )
)
_WRITTEN_AT_THE_END: Final = ("contact_id", "conversation_id", "rc_message_id")
_CONVERSATIONS: Final = cast(Table, Conversation.__table__)


@functools.lru_cache(maxsize=64)
def _finish_writing(columns: tuple[str, ...]) -> Any:
    """_FINISH_IN_ORDER that also writes the conversation's changed *columns* (PostgreSQL: a
    data-modifying ``WITH``, which runs whether or not the statement reads it). Built once
    per set of columns: a message into an open conversation changes the same few."""
    written = (
        update(_CONVERSATIONS)
        .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
        .values({_CONVERSATIONS.c[name]: bindparam(f"conversation_{name}") for name in columns})
        .cte("conversation_written")
    )
    return _FINISH_IN_ORDER.add_cte(written)


def finish(
    session: Session, row: InboxMessage, now: datetime, conversation: Conversation | None = None
) -> int | None:
    """Mark *row* processed (with what its job recorded on it: contact, conversation, posted
    message) and return the earliest message of its thread deferred behind it, to hand on.
    One statement, written out here rather than by the session's flush: the row's values
    are taken as written (the session will not write them again). On PostgreSQL the same
    statement writes what changed on *conversation* (its last message, the room, badge and
    hand-over of a new one), which the flush wrote before: one round trip and no unit of
    work fewer. Under the thread's lock (:func:`lock_thread`), in the transaction that
    commits the row's end."""
    values = {name: getattr(row, name) for name in _WRITTEN_AT_THE_END}
    params = {f"to_{name}": value for name, value in values.items()}
    params.update(of_channel=row.channel, of_thread=row.thread_key, inbox_id=row.id, now=now)
    statement = _FINISH_IN_ORDER
    changed = {}
    connection = session.connection()
    if conversation is not None and connection.dialect.name == "postgresql":
        changed = rows.changes(conversation)
    if changed:
        statement = _finish_writing(tuple(sorted(changed)))
        params.update({f"conversation_{name}": value for name, value in changed.items()})
        params["conversation_id"] = conversation.id  # type: ignore[union-attr]
        rows.written(session, conversation, changed)
    values.update(status="processed", processed_at=now, updated_at=now, last_error=None)
    rows.written(session, row, values)
    session.flush()  # whatever else is pending goes first, as the autoflush would order it
    return cast("int | None", connection.execute(statement, params).scalar())


def stalled_ids(session: Session, now: datetime, grace: timedelta) -> list[int]:
    """Deferred messages nobody handed on for *grace* (their predecessor's job died between
    its commit and the hand-over): their job checks the order again."""
    return list(
        session.scalars(
            select(InboxMessage.id).where(
                InboxMessage.status == "waiting",
                InboxMessage.not_before.is_(None),
                InboxMessage.updated_at <= now - grace,
            )
        )
    )


def skip(session: Session, actor: Actor, inbox_id: int, now: datetime) -> InboxMessage:
    """Give up on a failed message so the ones after it go through; audited.

    :raise NotFound: no such message.
    :raise Conflict: the message is not failed.
    """
    require_manager(actor)
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        raise NotFound(f"Inbox message {inbox_id} does not exist.", {"inbox_id": inbox_id})
    lock_thread(session, row)
    session.refresh(row)
    if row.status != "failed":
        raise Conflict(
            f"Only a failed message can be skipped; this one is {row.status}.",
            {"inbox_id": inbox_id, "status": row.status},
        )
    before = {"status": row.status, "last_error": row.last_error}
    row.status = "skipped"
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "updated",
        "inbox",
        row.id,
        f"{row.provider} {row.external_id}"[:200],
        before=before,
        after={"status": "skipped"},
    )
    return row


def held_messages(
    session: Session, threads: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (channel, thread): customer messages not shown yet, and how many of them failed,
    so an agent sees the gap in a conversation instead of a silent hole."""
    if not threads:
        return {}
    rows = session.execute(
        select(
            InboxMessage.channel,
            InboxMessage.thread_key,
            func.count(),
            func.count().filter(InboxMessage.status == "failed"),
        )
        .where(
            InboxMessage.status.in_(("queued", "waiting", "failed")),
            InboxMessage.thread_key.in_({key for _, key in threads}),
        )
        .group_by(InboxMessage.channel, InboxMessage.thread_key)
    ).all()
    wanted = set(threads)
    return {(c, str(k)): (n, f) for c, k, n, f in rows if (c, k) in wanted}
