"""The durable inbox: store inbound messages once, hand them to jobs, resolve their contact.

A message is stored in the webhook's transaction; (provider, external id) is unique, so a
redelivery inserts nothing. Jobs claim a row with a compare-and-set, so it runs once.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, scoped_session

from service.domain import audit, conversations, rows
from service.domain.access import require_manager
from service.domain.actor import Actor, system_actor
from service.domain.contacts import snapshot
from service.domain.errors import NotFound
from service.domain.identity import PHONE, normalize_handle, phone_variants, usable_handle
from service.domain.messages import Delivery, Identity, InboundMessage
from service.domain.names import clean_name, search_key
from service.domain.pagination import Page, paginate
from service.models import (
    Contact,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    InboxMessage,
    WebhookNonce,
)
from service.models.types import UTCDateTime

log = logging.getLogger(__name__)

# Stored for the record, with nothing to do: our own messages echoed back by Rocket.Chat.
IGNORED_KINDS: Final = frozenset({"echo"})
INTAKE_ACTOR: Final = system_actor("intake")


def insert_or_skip(session: Session, model: Any) -> postgresql.Insert | sqlite.Insert:
    # INSERT ... ON CONFLICT DO NOTHING: the same statement on both supported databases.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


@functools.cache
def _store_statement(dialect: str) -> Any:
    """One prebuilt Core INSERT .. ON CONFLICT DO NOTHING RETURNING id per dialect, run with
    parameters: the webhook's hot path compiles nothing per message."""
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(InboxMessage.__table__)
        .on_conflict_do_nothing(index_elements=["provider", "external_id"])
        .returning(InboxMessage.__table__.c.id)
    )


@dataclass(frozen=True)
class Accepted:
    """What one webhook delivery left in the inbox."""

    new_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    statuses: int = 0
    ignored: int = 0
    failed: int = 0  # kept as ``failed`` rows with the reason: the database refused them


def _row(message: InboundMessage, region: str, now: datetime) -> dict[str, Any]:
    sender = message.sender
    thread_key = message.thread_key
    sender_value = normalize_handle(sender.kind, sender.value, region) if sender else None
    if sender is not None and sender.kind == PHONE and thread_key == sender.value:
        # phone threads are keyed by the normalized number, like the sender
        thread_key = sender_value
    return {
        "provider": message.provider,
        "channel": message.channel,
        "external_id": message.external_id[:255],
        "kind": message.kind[:40],
        "sender_kind": sender.kind if sender else None,
        "sender_value": sender_value[:320] if sender_value is not None else None,
        "sender_raw": sender.raw[:320] if sender else None,
        "sender_name": message.sender_name[:200] if message.sender_name else None,
        "other_identities": [
            {"kind": i.kind, "value": normalize_handle(i.kind, i.value, region)}
            for i in message.other_identities
        ],
        "recipient": message.recipient[:320] if message.recipient else None,
        "thread_key": thread_key[:320] if thread_key else None,
        "text": message.text,
        "attachments": [a.stored() for a in message.attachments],
        "payload": message.payload,
        "sent_at": message.sent_at,
        "received_at": now,
        "updated_at": now,
        "status": "ignored" if message.kind in IGNORED_KINDS else "pending",
        "attempts": 0,
    }


# What a failed store may raise: the database's refusal (NUL in PostgreSQL text, a value out
# of range), or the driver's before it (SQLite cannot encode a lone surrogate).
STORE_ERRORS: Final = (SQLAlchemyError, ValueError, TypeError, ArithmeticError)


def _refused(exc: Exception) -> bool:
    """The row's values were refused, as opposed to the database being unreachable or the
    session broken: those propagate, so the platform is told to retry the whole delivery."""
    if isinstance(exc, DBAPIError):
        return isinstance(exc, DataError | IntegrityError) and not exc.connection_invalidated
    if isinstance(exc, SQLAlchemyError):
        return isinstance(exc, StatementError)  # a value its column type cannot bind
    return True


def _ascii(text: object, limit: int) -> str:
    """Printable ASCII any database stores, for the record of a message it refused."""
    escaped = str(text).encode("unicode_escape").decode("ascii")
    return escaped[:limit] or "?"


def _failed_row(message: InboundMessage, reason: str, now: datetime) -> dict[str, Any]:
    return {
        "provider": _ascii(message.provider, 16),
        "channel": _ascii(message.channel, 16),
        "external_id": _ascii(message.external_id, 255),
        "kind": _ascii(message.kind, 40),
        "other_identities": [],
        "attachments": [],
        "payload": {"refused": reason},
        "sent_at": now,
        "received_at": now,
        "updated_at": now,
        "status": "failed",
        "attempts": 0,
        "last_error": reason,
    }


class StoreAgain(Exception):
    """The database refused a row of a delivery stored without savepoints: roll back and
    call :func:`accept` again with ``careful=True`` (see there)."""


# A webhook passes its scoped session: a Session is made only if a statement needs one.
_Sessions = Session | scoped_session[Any]


def _made(session: _Sessions) -> Session:
    """The Session itself: a scoped session's, made if it has none yet."""
    return session() if isinstance(session, scoped_session) else session


def _store(session: _Sessions, store: Any, row: dict[str, Any], careful: bool) -> int | None:
    if not careful:
        try:
            if isinstance(store, _Fused):
                return store.run(session, row)
            return session.execute(store, row).scalar()
        except STORE_ERRORS as exc:
            if _refused(exc):
                raise StoreAgain(str(exc)[:200]) from exc
            raise
    # A SAVEPOINT per message: a refused row rolls back alone, never its neighbours.
    with session.begin_nested():
        inbox_id: int | None = session.execute(store, row).scalar()
    return inbox_id


# Webhooks that hand rows over through the database (``CARTERAS_HANDOFF``) notify this
# channel in their transaction; each worker's dispatcher (service/jobs/dispatcher.py) listens.
INBOX_CHANNEL: Final = "carteras_inbox"


def announce(session: Session) -> None:
    """Tell the listening dispatchers that new rows wait (PostgreSQL delivers the NOTIFY at
    commit, once per transaction, and never if it rolls back)."""
    session.execute(_ANNOUNCE)


_ANNOUNCE: Final = select(func.pg_notify(INBOX_CHANNEL, ""))
_JSON_COLUMNS: Final = ("other_identities", "attachments", "payload")
_TIME_COLUMNS: Final = ("sent_at", "received_at", "updated_at")


class _Fused:
    """The webhook's fast path on PostgreSQL: one driver-level statement per message that
    inserts it (``ON CONFLICT DO NOTHING``) and, when it stored a pending row and *notify*
    is set, notifies the dispatchers in the same statement (``pg_notify`` in the CTE's
    select, delivered at commit like ``announce``: one round trip instead of two). Run
    through the session's connection (``exec_driver_sql``): the same transaction, events,
    error wrapping and disconnect handling as any statement, without building, caching or
    type-processing an SQLAlchemy statement per message. The values are bound as the
    model's types bind them (``JSON``: ``json.dumps``; ``UTCDateTime``: aware datetimes
    only); the columns are those ``_row`` fills.

    With an *engine* (see ``_lean``), the statement is its own transaction, run in
    autocommit on a pooled driver connection, without a session or an SQLAlchemy
    ``Connection`` around it (``_run_alone``)."""

    def __init__(self, notify: bool, engine: Engine | None = None) -> None:
        self.notify, self.engine = notify, engine

    def run(self, session: _Sessions, row: dict[str, Any]) -> int | None:
        if self.engine is not None:
            return self._run_alone(self.engine, row)
        stored = self._insert(session.connection().exec_driver_sql, row).first()
        return None if stored is None else int(stored[0])

    def _insert(self, execute: Callable[[str, dict[str, Any]], Any], row: dict[str, Any]) -> Any:
        params = dict(row, notify=self.notify, inbox_channel=INBOX_CHANNEL)
        for column in _JSON_COLUMNS:
            params[column] = json.dumps(row[column])
        for column in _TIME_COLUMNS:
            value = row[column]
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError("UTCDateTime needs a timezone-aware datetime")
        # Written out where it runs: SQL is built by the ORM or passed as constant text only
        # (tests/integration/test_security.py); its columns are those _row fills
        # (tests/unit/test_rules_intake.py checks them).
        return execute(
            "WITH stored AS (INSERT INTO inbox_messages (provider, channel, external_id, "
            "kind, sender_kind, sender_value, sender_raw, sender_name, other_identities, "
            "recipient, thread_key, text, attachments, payload, sent_at, received_at, "
            "updated_at, status, attempts) VALUES (%(provider)s, %(channel)s, "
            "%(external_id)s, %(kind)s, %(sender_kind)s, %(sender_value)s, "
            "%(sender_raw)s, %(sender_name)s, %(other_identities)s::json, %(recipient)s, "
            "%(thread_key)s, %(text)s, %(attachments)s::json, %(payload)s::json, "
            "%(sent_at)s, %(received_at)s, %(updated_at)s, %(status)s, %(attempts)s) "
            "ON CONFLICT (provider, external_id) DO NOTHING RETURNING id, status) "
            "SELECT id, CASE WHEN %(notify)s AND status = 'pending' "
            "THEN pg_notify(%(inbox_channel)s, '') END FROM stored",
            params,
        )

    def _run_alone(self, engine: Engine, row: dict[str, Any]) -> int | None:
        """The statement as its own transaction (autocommit: committed, durably, when it
        returns) on a connection taken from the engine's pool, so its checkout check runs
        (service/extensions.py). What SQLAlchemy's ``Connection`` would do about a driver
        error is done here with its public pieces: the error is raised as SQLAlchemy's
        (``DBAPIError.instance``, the class ``_refused`` and the error handlers read),
        and a connection the dialect says is gone is invalidated, never pooled again (the
        others are checked at their checkout; see sqlalchemy/engine/base.py,
        ``Connection._handle_dbapi_exception``)."""
        dbapi_error = engine.dialect.loaded_dbapi.Error
        pooled = engine.raw_connection()
        driver: Any = pooled.driver_connection  # the psycopg connection, checked out
        # One cursor per pooled connection, kept with it: psycopg's Connection.execute makes
        # a cursor, with its own adapters map, for each statement (psycopg/connection.py),
        # and a cursor runs any number of them (each execute resets it). The pool clears
        # ``info`` whenever it replaces the driver connection (sqlalchemy/pool/base.py,
        # _ConnectionRecord.get_connection); checked here as well.
        cursor = pooled.info.get(_CURSOR)
        if cursor is None or cursor.connection is not driver:
            cursor = pooled.info[_CURSOR] = driver.cursor()

        def execute(statement: str, params: dict[str, Any]) -> Any:
            try:
                return cursor.execute(statement, params)
            except dbapi_error as exc:
                gone = engine.dialect.is_disconnect(exc, driver, None)
                if gone:
                    pooled.invalidate(exc)
                raise DBAPIError.instance(
                    statement,
                    params,
                    exc,
                    dbapi_error,
                    hide_parameters=engine.hide_parameters,
                    connection_invalidated=gone,
                    dialect=engine.dialect,
                ) from exc

        try:
            driver.autocommit = True
            try:
                stored = self._insert(execute, row).fetchone()
            finally:
                if not driver.closed:  # lent back as the pool lends it: not in autocommit
                    driver.autocommit = False
        finally:
            pooled.close()
        return None if stored is None else int(stored[0])


_CURSOR: Final = "carteras.intake.cursor"  # _run_alone's cursor, in the pool's record info

# Events that watch statements (tracing, a test's fault): when the engine has a listener for
# one, the webhook's statement goes through SQLAlchemy's Connection so that they see it.
_STATEMENT_EVENTS: Final = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)


def _lean(engine: Engine) -> Engine | None:
    """*engine*, when its pooled driver connection may run a statement on its own
    (``_Fused._run_alone``), or None: an engine that logs its statements (``echo``), or one
    with statement or error events."""
    if engine.echo or engine.dialect.dispatch.handle_error:
        return None
    if any(getattr(engine.dispatch, name) for name in _STATEMENT_EVENTS):
        return None
    return engine


_ON_ITS_OWN: Final = {"isolation_level": "AUTOCOMMIT"}


@functools.cache
def _fused_statement(notify: bool) -> _Fused:
    return _Fused(notify)


def _fused_store(
    session: _Sessions,
    delivery: Delivery,
    notify: bool,
    alone: Engine | None,
) -> _Fused:
    """The fused statement for *delivery*; one message alone (see ``accept``) is its own
    transaction: on a pooled driver connection (``_lean``), without making the scoped
    session's Session, or on the session's connection put in autocommit."""
    if alone is None or len(delivery.messages) != 1 or delivery.statuses:
        return _fused_statement(notify)
    if isinstance(session, scoped_session):
        # no Session in this scope yet: nothing open, and none is made (ScopedRegistry.has)
        opened = session() if session.registry.has() else None
    else:
        opened = session
    if opened is not None and opened.in_transaction():
        return _fused_statement(notify)
    engine = _lean(alone)
    if engine is None:
        session.connection(execution_options=_ON_ITS_OWN)
        return _fused_statement(notify)
    return _Fused(notify, engine)


def hand_over(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Take up to *limit* pending rows, oldest first, for the queue: ``pending -> queued``
    in one compare-and-set that concurrent dispatchers skip past (``SKIP LOCKED``), so each
    row is handed over by one of them. The caller commits, then enqueues; a row whose enqueue
    never happens (Redis away, the process died) is queued past the grace, which the sweep
    enqueues again."""
    waiting = (
        select(InboxMessage.id)
        .where(InboxMessage.status == "pending")
        .order_by(InboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    handed = session.scalars(
        update(InboxMessage)
        .where(InboxMessage.id.in_(waiting), InboxMessage.status == "pending")
        .values(status="queued", updated_at=now)
        .returning(InboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(handed)


def accept(
    session: _Sessions,
    delivery: Delivery,
    *,
    region: str,
    now: datetime,
    careful: bool = True,
    notify: bool = False,
    alone: Engine | None = None,
) -> Accepted:
    """Store every message and receipt of a delivery; duplicates are counted, not stored.

    A message the database refuses is kept as a ``failed`` row with the reason, and the rest
    of the delivery is stored. Runs in the caller's transaction: the webhook commits once,
    then enqueues ``new_ids``.

    ``careful=False`` skips the savepoint around each row (two round trips each): the
    webhook's fast path. A refused row then raises :class:`StoreAgain`, after which the
    caller rolls back and stores the delivery again, carefully.

    ``notify``: tell the dispatchers (``announce``) when new pending rows were stored; on
    PostgreSQL's fast path each message's insert notifies itself (see ``_Fused``).

    ``alone``: the engine of *session*, on which the caller has no transaction open and
    commits right after. On PostgreSQL's fast path a delivery that is one statement (one
    message, no receipt) then runs it in autocommit: the statement is its own transaction,
    committed (durably, as any commit) when it returns, with no ``BEGIN`` and ``COMMIT``
    round trips around it; a scoped *session* (the webhook's) then makes no Session at all.
    A refused row stores nothing either way.
    """
    new_ids: list[int] = []
    duplicates = ignored = statuses = failed = 0
    dialect = (alone if alone is not None else session.get_bind()).dialect.name
    fused = not careful and dialect == "postgresql"
    store = _fused_store(session, delivery, notify, alone) if fused else _store_statement(dialect)
    for message in delivery.messages:
        try:
            row = _row(message, region, now)
            inbox_id = _store(session, store, row, careful)
        except STORE_ERRORS as exc:
            if not _refused(exc):
                raise
            reason = _ascii(f"not stored: {type(exc).__name__}: {exc}".splitlines()[0], 2000)
            log.warning("inbound message refused", extra={"reason": reason})
            row = _failed_row(message, reason, now)
            inbox_id = _store(session, _store_statement(dialect), row, careful)
        if inbox_id is None:
            duplicates += 1
        elif row["status"] == "failed":
            failed += 1
        elif row["status"] == "ignored":
            ignored += 1
        else:
            new_ids.append(inbox_id)
    for status in delivery.statuses:
        receipt = (
            insert_or_skip(_made(session), DeliveryStatus)
            .values(
                provider=status.provider[:16],
                message_id=status.message_id[:255],
                status=status.status[:32],
                recipient=status.recipient[:320] if status.recipient else None,
                errors=list(status.errors),
                occurred_at=status.occurred_at,
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["provider", "message_id", "status"])
            .returning(DeliveryStatus.id)
        )
        # RETURNING, not rowcount: psycopg reports -1 for INSERT .. ON CONFLICT DO NOTHING.
        try:
            statuses += _store(session, receipt, {}, careful) is not None
        except STORE_ERRORS as exc:  # a receipt routes nothing: log it, keep the rest
            if not _refused(exc):
                raise
            log.warning("delivery receipt refused", extra={"reason": repr(exc)[:500]})
    if notify and new_ids and not fused:
        announce(_made(session))
    return Accepted(
        new_ids=new_ids,
        duplicates=duplicates,
        statuses=statuses,
        ignored=ignored,
        failed=failed,
    )


def use_nonce(session: Session, provider: str, nonce: str, now: datetime) -> bool:
    """Record a single-use webhook token; False when it was seen before (a replay)."""
    stmt = (
        insert_or_skip(session, WebhookNonce)
        .values(provider=provider, nonce=nonce[:255], seen_at=now)
        .on_conflict_do_nothing(index_elements=["provider", "nonce"])
        .returning(WebhookNonce.id)
    )
    return session.execute(stmt).scalar() is not None


_NOW = bindparam("now", type_=UTCDateTime())
# Built once: every job runs it, and building the statement cost about as much as running it.
CLAIM: Final = (
    update(InboxMessage)
    .where(
        InboxMessage.id == bindparam("inbox_id"),
        InboxMessage.status.in_(("pending", "queued", "failed"))
        | (
            (InboxMessage.status == "waiting")
            # deferred behind its thread (no time), or its wait is over
            & (InboxMessage.not_before.is_(None) | (InboxMessage.not_before <= _NOW))
        ),
    )
    .values(
        status="processing",
        not_before=None,
        claimed_at=_NOW,
        attempts=InboxMessage.attempts + 1,
        updated_at=_NOW,
    )
    .returning(InboxMessage)
    .execution_options(populate_existing=True, synchronize_session=False)
)


def claim(session: Session, inbox_id: int, now: datetime) -> InboxMessage | None:
    """Take a row for processing (compare-and-set); None when another job has it or it is done.
    The row comes back with the update (RETURNING): one round trip."""
    return session.scalars(CLAIM, {"inbox_id": inbox_id, "now": now}).one_or_none()


def wait(session: Session, row: InboxMessage, until: datetime, why: str, now: datetime) -> None:
    """Rocket.Chat asked us to wait (its rate limit, or no agent online): the row waits until
    *until* with the reason shown in /api/inbox, and its try is not counted as one."""
    row.status = "waiting"
    row.not_before = until
    row.last_error = why
    row.attempts = max(row.attempts - 1, 0)
    row.updated_at = now


def renew_lease(session: Session, inbox_id: int, attempt: int, now: datetime) -> bool:
    """Extend the job's hold on a row it claimed (attempt = the row's ``attempts`` after the
    claim); False when the row is no longer this attempt's (the sweeper took it back)."""
    result = session.execute(
        update(InboxMessage)
        .where(
            InboxMessage.id == inbox_id,
            InboxMessage.status == "processing",
            InboxMessage.attempts == attempt,
        )
        .values(claimed_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def finish(
    session: Session, row: InboxMessage, status: str, now: datetime, error: str | None = None
) -> None:
    row.status = status
    row.last_error = error
    row.updated_at = now
    if status == "processed":
        row.processed_at = now


def handles_of(row: InboxMessage) -> list[Identity]:
    """The sender's handle first, then the other handles the platform gave; only those that
    can identify a contact (a phone or email that does not parse stays on the row alone)."""
    handles: list[Identity] = []
    if row.sender_kind and row.sender_value:
        handles.append(Identity(row.sender_kind, row.sender_value, row.sender_raw or ""))
    for other in row.other_identities or []:
        if other.get("value") and other.get("kind"):
            handles.append(Identity(other["kind"], other["value"], other["value"]))
    return [h for h in handles if usable_handle(h.kind, h.value)]


# A returning customer's contact, read as a table row and made into the mapped object by
# rows.adopt: the ORM's loading (session.get with lazyload options) cost the job more CPU
# than the statement. Neither its handles nor its region are read (routing reads the
# contact's id, name and cartera only); either is loaded if used.
_CONTACTS: Final = cast(Table, Contact.__table__)


@functools.cache
def _owners_statement(with_thread: bool) -> Any:
    """The owner look-up, built once: building and caching-keying an ORM select per call
    cost as much as the indexed query itself (the routing job runs it for every message).
    *with_thread*: each owner's contact row too (``_CONTACTS``' columns, by their keys), and
    the contact's open conversation of the message's thread (``conversations.open_columns``),
    so that a returning customer costs the routing job one statement, not three."""
    table = ContactIdentity.__table__
    statement = select(table.c.kind, table.c.value, table.c.contact_id)
    if with_thread:
        open_columns, open_join = conversations.open_columns(
            table.c.contact_id, bindparam("channel"), bindparam("thread_key")
        )
        statement = (
            statement.add_columns(*_CONTACTS.c, *open_columns)
            .join_from(table, _CONTACTS, _CONTACTS.c.id == table.c.contact_id)
            .outerjoin(Conversation, open_join)
        )
    return statement.where(table.c.value.in_(bindparam("values", expanding=True)))


@dataclass(frozen=True)
class _Owners:
    """Who owns the handles asked for: the contact owning one of them (the first handle
    winning), who owns each value, and, when asked for, the winner's contact row."""

    contact_id: int | None
    by_value: dict[tuple[str, str], int]
    contact_row: Any = None


def _owners(
    session: Session, handles: Sequence[Identity], *, thread: tuple[str, str] | None = None
) -> _Owners:
    """The contact owning one of the handles (phones in each of their written forms), in one
    indexed query, the first handle winning when several match; and who owns each of the
    values asked for. With a *thread* (channel, thread key): the winner's contact row too,
    and its open conversation of that thread (kept for ``conversations.find_open``)."""
    wanted = [
        (handle.kind, value)
        for handle in handles
        for value in (phone_variants(handle.value) if handle.kind == PHONE else [handle.value])
    ]
    if not wanted:
        return _Owners(None, {})
    values = list(dict.fromkeys(value for _, value in wanted))
    params: dict[str, Any] = {"values": values}
    if thread is not None:
        params["channel"], params["thread_key"] = thread
    rows_ = session.execute(_owners_statement(thread is not None), params).all()
    owners = {(row.kind, row.value): row.contact_id for row in rows_}
    winner = next((owners[pair] for pair in wanted if pair in owners), None)
    if thread is None or winner is None:
        return _Owners(winner, owners)
    row = next(r._mapping for r in rows_ if r.contact_id == winner)
    conversations.read_open(session, winner, *thread, row)
    return _Owners(winner, owners, row)


def find_contact_id(session: Session, handles: Sequence[Identity]) -> int | None:
    """The contact owning one of the handles; the first handle wins when several match."""
    return _owners(session, handles).contact_id


def resolve_contact(
    session: Session, row: InboxMessage, actor: Actor = INTAKE_ACTOR
) -> tuple[Contact | None, bool]:
    """The message's contact: found by any handle (and taught the handles it lacks), or
    created without a cartera. Returns (contact, created); (None, False) with no usable
    handle: an unknown contact, whose handles stay on the inbox row only.

    :raise IntegrityError: another job created the same contact meanwhile (retry the job).
    """
    handles = handles_of(row)
    if not handles:
        return None, False
    thread = (row.channel, row.thread_key) if row.thread_key else ("", "")
    found = _owners(session, handles, thread=thread)
    contact_id, owners = found.contact_id, found.by_value
    if contact_id is not None and all(
        owners.get((handle.kind, handle.value)) == contact_id for handle in handles
    ):
        # Every handle is the contact's already (a returning customer: the usual case):
        # nothing to teach, so neither its handles nor a snapshot for the audit are read,
        # nor its region (routing reads the contact's id, name and cartera only).
        return rows.adopt(session, Contact, found.contact_row), False
    contact = session.get(Contact, contact_id) if contact_id is not None else None
    created = contact is None
    if contact is None:
        name = clean_name(row.sender_name or handles[0].value, max_length=200)
        contact = Contact(name=name, identities=[], search_key=search_key(name))
        session.add(contact)
        session.flush()
        before = None
    else:
        before = snapshot(contact)
    known = {(i.kind, i.value) for i in contact.identities}
    for handle in handles:
        if (handle.kind, handle.value) in known:
            continue
        with session.no_autoflush:
            owner = session.scalar(
                select(ContactIdentity.contact_id).where(
                    ContactIdentity.kind == handle.kind, ContactIdentity.value == handle.value
                )
            )
        if owner is None:  # never take a handle away from another contact
            contact.identities.append(ContactIdentity(kind=handle.kind, value=handle.value))
            known.add((handle.kind, handle.value))
    session.flush()
    if before is None:
        audit.record(
            session,
            actor,
            "created",
            "contact",
            contact.id,
            contact.name,
            after=snapshot(contact),
            details={"source": f"inbox:{row.id}"},
        )
    else:
        audit.record_changes(
            session, actor, "contact", contact.id, contact.name, before, snapshot(contact)
        )
    return contact, created


def stale_ids(session: Session, now: datetime, *, grace: timedelta, lease: timedelta) -> list[int]:
    """Rows to enqueue again: pending past *grace* (Redis was down, or the process died
    between commit and enqueue), queued for a retry past *grace* (Redis may have lost it),
    waiting past their time, or processing with a lease not renewed for *lease* (the
    worker died mid-job). Nobody holds any of them: the processing ones go back to pending
    in one compare-and-set, so a lease renewed meanwhile keeps its row."""
    abandoned = session.scalars(
        update(InboxMessage)
        .where(InboxMessage.status == "processing", InboxMessage.claimed_at <= now - lease)
        .values(status="pending", updated_at=now)
        .returning(InboxMessage.id)
    ).all()
    pending = session.scalars(
        select(InboxMessage.id).where(
            (
                (InboxMessage.status == "pending") & (InboxMessage.received_at <= now - grace)
                # a try failed and its retry lives only in Redis: a Redis that restarted
                # empty forgot it (a retry still scheduled keeps its job id: not doubled)
                | ((InboxMessage.status == "queued") & (InboxMessage.updated_at <= now - grace))
                # a wait that is over (its scheduled job is the first to try; this is the net)
                | ((InboxMessage.status == "waiting") & (InboxMessage.not_before <= now))
            ),
            InboxMessage.id.not_in(abandoned),
        )
    ).all()
    return sorted([*pending, *abandoned])


def failed_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(InboxMessage.id).where(InboxMessage.status == "failed").order_by(InboxMessage.id)
        )
    )


def reset_for_replay(session: Session, inbox_ids: Sequence[int], now: datetime) -> list[int]:
    """failed -> pending, so the rows can be enqueued again; returns the ids that changed."""
    ids = list(
        session.scalars(
            select(InboxMessage.id).where(
                InboxMessage.id.in_(inbox_ids), InboxMessage.status == "failed"
            )
        )
    )
    if ids:
        session.execute(
            update(InboxMessage)
            .where(InboxMessage.id.in_(ids))
            .values(status="pending", last_error=None, updated_at=now)
        )
    return ids


def list_inbox(
    session: Session,
    actor: Actor,
    *,
    status: str | None,
    provider: str | None,
    page: int,
    per_page: int,
) -> Page[InboxMessage]:
    """What arrived, newest first (admins and coordinators)."""
    require_manager(actor)
    stmt = select(InboxMessage).order_by(InboxMessage.id.desc())
    if status:
        stmt = stmt.where(InboxMessage.status == status)
    if provider:
        stmt = stmt.where(InboxMessage.provider == provider)
    return paginate(session, stmt, page, per_page)


def get_inbox(session: Session, actor: Actor, inbox_id: int) -> InboxMessage:
    """:raise NotFound: no such row."""
    require_manager(actor)
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        raise NotFound(f"Inbox message {inbox_id} does not exist.", {"inbox_id": inbox_id})
    return row
