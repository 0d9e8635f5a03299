"""Writing and reading the append-only audit log (domain rule 7).

Every use case that changes state calls :func:`record` in the same transaction. Reading:
:func:`search` pages, :func:`describe_all` puts a page in words (``audit_text``) with one
name look-up, :func:`export_csv` streams every matching event.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal, or_, select, true
from sqlalchemy.orm import Session

from service.domain import audit_text, spreadsheet
from service.domain.access import require_manager, visible_audit
from service.domain.actor import Actor
from service.domain.errors import Invalid
from service.domain.names import fold, search_key
from service.domain.pagination import Page, check_paging
from service.domain.periods import dates_range, period_range
from service.models import Agent, AuditEvent, Cartera, Contact, Region, Team, User

EVENTS: Final = (
    "created",
    "updated",
    "deleted",
    "activated",
    "deactivated",
    "contact_added",
    "contact_removed",
    "contact_moved",
    "imported",
    "handover",
)
RESOURCE_TYPES: Final = (
    "team",
    "agent",
    "cartera",
    "contact",
    "region",
    "token",
    "user",
    "inbox",
    "outbox",
)
# How far :func:`search` counts: past it, the total reads "more than 10 000".
COUNT_LIMIT: Final = 10_000


def record(
    session: Session,
    actor: Actor,
    event: str,
    resource_type: str,
    resource_id: int | None,
    resource_name: str | None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
    related_name: str | None = None,
    related_id: int | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one audit event (flushed with the change it describes)."""
    entry = AuditEvent(
        actor_user_id=actor.user_id,
        actor_name=actor.name,
        event=event,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        related_name=related_name,
        related_id=related_id,
        search_key=search_key(actor.name, resource_name, related_name),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        details=dict(details) if details is not None else None,
        request_id=actor.request_id,
    )
    if now is not None:
        entry.occurred_at = now
    session.add(entry)
    return entry


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record_changes(
    session: Session,
    actor: Actor,
    resource_type: str,
    resource_id: int,
    resource_name: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> bool:
    """Append an ``updated`` event with only the changed fields; nothing if none changed."""
    old, new = changes(before, after)
    if not new:
        return False
    session.flush()
    record(
        session, actor, "updated", resource_type, resource_id, resource_name, before=old, after=new
    )
    return True


@dataclass(frozen=True)
class AuditQuery:
    q: str | None = None
    event: str | None = None
    resource_type: str | None = None
    resource_id: int | None = None
    period: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def search(
    session: Session,
    actor: Actor,
    query: AuditQuery,
    *,
    now: datetime,
    tz: ZoneInfo,
    page: int,
    per_page: int,
) -> Page[AuditEvent]:
    """Events matching every given filter, newest first.

    ``q`` matches the actor's name or the resource's name (and, for membership events,
    the contact's name); ``period`` and ``date_from``/``date_to`` are
    read in *tz*. The count stops after :data:`COUNT_LIMIT` events (or the end of the
    page asked for, if further): beyond it the page says ``total_exact=False``, "more
    than ``total``" (an exact count of a year of events took longer than the page itself).

    :raise Forbidden: agents do not read the audit log; a coordinator limited to some
        carteras reads only the events of those carteras and their contacts.
    :raise Invalid: unknown event, resource type or period; ``date_to`` before ``date_from``.
    """
    return _page(session, _statement(actor, query, now, tz), page, per_page)


def _page(session: Session, stmt: Select[Any], page: int, per_page: int) -> Page[AuditEvent]:
    """One page of *stmt* and the total, the matches read once when there are few.

    One query counts the matches' keys (at most the limit and one) and pages them: a text
    search runs its trigram scan once, not once for the count and once for the page. Past
    the limit, those keys are not the newest: the page comes from *stmt* itself (the
    ``occurred_at`` indexes), and the total is the limit, not exact.
    """
    check_paging(page, per_page)
    limit = max(COUNT_LIMIT, page * per_page)
    matches = (
        stmt.with_only_columns(AuditEvent.id, AuditEvent.occurred_at)
        .order_by(None)
        .limit(limit + 1)
        .cte("matches")
    )
    total = select(func.count().label("n")).select_from(matches).subquery("total")
    paged = (
        select(matches.c.id)
        .order_by(matches.c.occurred_at.desc(), matches.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("paged")
    )
    found = session.execute(
        select(total.c.n, paged.c.id).select_from(total.outerjoin(paged, true()))
    ).all()
    if found[0].n > limit:
        items = list(session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
        return Page(items=items, total=limit, page=page, per_page=per_page, total_exact=False)
    ids = [row.id for row in found if row.id is not None]
    # By id alone: with the filters again, PostgreSQL could run the text search again.
    by_id = select(AuditEvent).where(AuditEvent.id.in_(ids))
    newest_first = by_id.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    items = list(session.scalars(newest_first)) if ids else []
    return Page(items=items, total=found[0].n, page=page, per_page=per_page)


def _statement(actor: Actor, query: AuditQuery, now: datetime, tz: ZoneInfo) -> Select[Any]:
    """The SELECT of :func:`search` (same rules, same errors), newest first."""
    require_manager(actor)
    stmt = select(AuditEvent).where(visible_audit(actor))
    # No stored text holds a NUL (PostgreSQL refuses it): searching without it is the same.
    text = (query.q or "").replace("\x00", "").strip()
    if text:
        stmt = stmt.where(AuditEvent.search_key.contains(fold(text), autoescape=True))
    if query.event:
        if query.event not in EVENTS:
            raise Invalid.field("event", f"must be one of {', '.join(EVENTS)}")
        stmt = stmt.where(AuditEvent.event == query.event)
    if query.resource_type:
        if query.resource_type not in RESOURCE_TYPES:
            raise Invalid.field("resource_type", f"must be one of {', '.join(RESOURCE_TYPES)}")
        stmt = stmt.where(AuditEvent.resource_type == query.resource_type)
    if query.resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == query.resource_id)
    if query.period:
        start, end = period_range(query.period, now, tz)
        stmt = stmt.where(AuditEvent.occurred_at >= _at(start), AuditEvent.occurred_at < _at(end))
    lower, upper = dates_range(query.date_from, query.date_to, tz)
    if lower is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= _at(lower))
    if upper is not None:
        stmt = stmt.where(AuditEvent.occurred_at < _at(upper))
    return stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def _at(moment: datetime) -> Any:
    """A time bound written into the SQL rather than sent as a parameter. psycopg prepares
    a statement run five times; PostgreSQL may then plan it once for any range (guessing a
    few thousand rows), and that plan reads the whole index for a year of events."""
    return literal(moment, AuditEvent.occurred_at.type, literal_execute=True)


# ---- reading it: names for ids, sentences, the CSV export ------------------------------

_NAMED: Final[dict[str, Any]] = {
    "team": Team,
    "agent": Agent,
    "region": Region,
    "user": User,
    "contact": Contact,
}


def lookup_names(session: Session, wanted: Mapping[str, set[int]]) -> audit_text.Names:
    """Today's names of the ids *wanted* lists (``audit_text.wanted``): one query per kind,
    whatever the number of events; carteras with their icons."""
    found: dict[str, dict[int, str]] = {}
    icons: dict[int, str] = {}
    for kind, ids in wanted.items():
        if not ids:
            continue
        if kind == "cartera":
            carteras = session.execute(
                select(Cartera.id, Cartera.name, Cartera.icon).where(Cartera.id.in_(ids))
            )
            for row_id, name, icon in carteras:
                found.setdefault(kind, {})[row_id] = name
                if icon:
                    icons[row_id] = icon
        elif kind in _NAMED:
            model = _NAMED[kind]
            rows = session.execute(select(model.id, model.name).where(model.id.in_(ids)))
            found[kind] = {row_id: name for row_id, name in rows}
    return audit_text.Names(by_kind=found, icons=icons)


def describe_all(
    session: Session, events: Sequence[AuditEvent], words: audit_text.Words = audit_text.SPANISH
) -> tuple[list[audit_text.Readable], audit_text.Names]:
    """Each event in words (one name look-up for them all), and the names found."""
    names = lookup_names(session, audit_text.wanted(events))
    return [audit_text.describe(event, names, words) for event in events], names


EXPORT_BATCH: Final = 500


@dataclass(frozen=True)
class Export:
    """A checked CSV export of the audit log: :meth:`chunks` writes it."""

    statement: Select[Any]
    tz: ZoneInfo
    words: audit_text.Words

    def chunks(self, session: Session) -> Iterator[str]:
        """CSV text chunks: a UTF-8 byte order mark, the header, then local date, user,
        event, resource, summary and changes of each event, newest first, spreadsheet-safe;
        500 events per query and per name look-up."""
        header = audit_text.csv_header(self.tz, self.words)
        return _csv_chunks(session, self.statement, header, self.tz, self.words)


def export_csv(
    actor: Actor,
    query: AuditQuery,
    *,
    now: datetime,
    tz: ZoneInfo,
    words: audit_text.Words = audit_text.SPANISH,
) -> Export:
    """Every event :func:`search` finds, for a CSV file. The filters and access are checked
    here, before anything is written; the edge streams ``chunks(session)`` with the session
    of the streaming context (a streamed response outlives the view's).

    :raise Forbidden, Invalid: as :func:`search`.
    """
    return Export(statement=_statement(actor, query, now, tz), tz=tz, words=words)


def _csv_chunks(
    session: Session,
    stmt: Select[Any],
    header: tuple[str, ...],
    tz: ZoneInfo,
    words: audit_text.Words,
) -> Iterator[str]:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(spreadsheet.row(header))
    # The header goes out before any query: a server (or test client) that reads the first
    # chunk to start the response, then stops, leaves no transaction open.
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    last: tuple[datetime, int] | None = None
    while True:
        batch = stmt
        if last is not None:  # keyset paging: events written meanwhile move nothing
            at, last_id = last
            batch = stmt.where(
                or_(
                    AuditEvent.occurred_at < at,
                    and_(AuditEvent.occurred_at == at, AuditEvent.id < last_id),
                )
            )
        events = list(session.scalars(batch.limit(EXPORT_BATCH)))
        if not events:
            break
        texts, names = describe_all(session, events, words)
        for event, text in zip(events, texts, strict=True):
            writer.writerow(
                spreadsheet.row(
                    [
                        audit_text.local_time(event.occurred_at, tz),
                        event.actor_name,
                        audit_text.event_label(event.event, words),
                        audit_text.resource_text(event, names, words),
                        text.summary,
                        "; ".join(text.lines()),
                    ]
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        last = (events[-1].occurred_at, events[-1].id)
        if len(events) < EXPORT_BATCH:
            break
