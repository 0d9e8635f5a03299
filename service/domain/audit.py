"""Writing and reading the append-only audit log (domain rule 7).

Every use case that changes state calls :func:`record` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.access import require_manager, visible_audit
from service.domain.actor import Actor
from service.domain.errors import Invalid
from service.domain.names import fold, search_key
from service.domain.pagination import Page, paginate
from service.domain.periods import dates_range, period_range
from service.models import AuditEvent

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
    read in *tz*.

    :raise Forbidden: agents do not read the audit log; a coordinator limited to some
        carteras reads only the events of those carteras and their contacts.
    :raise Invalid: unknown event, resource type or period; ``date_to`` before ``date_from``.
    """
    require_manager(actor)
    stmt = select(AuditEvent).where(visible_audit(actor))
    if query.q:
        text = query.q.strip()
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
        stmt = stmt.where(AuditEvent.occurred_at >= start, AuditEvent.occurred_at < end)
    lower, upper = dates_range(query.date_from, query.date_to, tz)
    if lower is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= lower)
    if upper is not None:
        stmt = stmt.where(AuditEvent.occurred_at < upper)
    stmt = stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    return paginate(session, stmt, page, per_page)
