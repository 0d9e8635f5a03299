"""Which cartera a contact is in: add, move, remove (domain rules 2 and 7).

Every change is a compare-and-set UPDATE (``WHERE cartera_id IS <what we read>``), so two
requests racing to put one contact in two carteras end with one assignment and one Conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.domain import audit
from service.domain.access import require_manager, visible_contacts
from service.domain.actor import Actor
from service.domain.carteras import get_cartera
from service.domain.errors import Conflict, Invalid, NotFound
from service.models import AuditEvent, Cartera, Contact
from service.models.types import utcnow

Change = Literal["added", "moved", "removed", "unchanged"]


def _conflict_detail(session: Session, contacts: Iterable[Contact]) -> list[dict[str, object]]:
    names = dict(
        session.execute(
            select(Cartera.id, Cartera.name).where(
                Cartera.id.in_({c.cartera_id for c in contacts if c.cartera_id is not None})
            )
        ).all()
    )
    return [
        {
            "contact_id": c.id,
            "contact_name": c.name,
            "cartera_id": c.cartera_id,
            "cartera_name": names.get(c.cartera_id or -1),
        }
        for c in contacts
    ]


def _in_other(session: Session, contacts: list[Contact]) -> Conflict:
    return Conflict(
        'Some contacts already belong to another cartera; send "move": true to move them.',
        {"contacts": _conflict_detail(session, contacts)},
        rule="membership.in_other",
    )


def assign(
    session: Session,
    actor: Actor,
    contact: Contact,
    target: Cartera | None,
    *,
    move: bool,
    audit_event: bool = True,
    details: dict[str, object] | None = None,
) -> Change:
    """Put *contact* in *target* (None = no cartera) and audit what happened.

    :raise Conflict: the contact is in another cartera and *move* is false, or another
        request changed its cartera meanwhile (the caller may retry).
    """
    old_id = contact.cartera_id
    new_id = target.id if target is not None else None
    if old_id == new_id:
        return "unchanged"
    if old_id is not None and new_id is not None and not move:
        raise _in_other(session, [contact])
    old = session.get(Cartera, old_id) if old_id is not None else None
    guard = Contact.cartera_id.is_(None) if old_id is None else Contact.cartera_id == old_id
    result = session.execute(
        update(Contact)
        .where(Contact.id == contact.id, guard)
        .values(cartera_id=new_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(contact)
        raise Conflict(
            "The contact's cartera was changed by another request; reload and try again.",
            {"contacts": _conflict_detail(session, [contact])},
            rule="membership.raced",
        )
    session.expire(contact, ["cartera_id", "cartera", "updated_at"])
    change: Change = "added" if old is None else ("removed" if target is None else "moved")
    if audit_event:
        where = target if target is not None else old
        assert where is not None
        audit.record(
            session,
            actor,
            f"contact_{change}",
            "cartera",
            where.id,
            where.name,
            related_name=contact.name,
            related_id=contact.id,
            before={
                "contact_id": contact.id,
                "cartera_id": old_id,
                "cartera": old.name if old else None,
            },
            after={
                "contact_id": contact.id,
                "cartera_id": new_id,
                "cartera": target.name if target else None,
            },
            details=details,
        )
    return change


@dataclass
class AddResult:
    added: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)


def add_contacts(
    session: Session, actor: Actor, cartera_id: int, contact_ids: Iterable[int], *, move: bool
) -> AddResult:
    """Add contacts to a cartera; all or nothing.

    :raise NotFound: no such cartera.
    :raise Invalid: unknown contact ids (or ones the actor may not see), or none given.
    :raise Conflict: some are in another cartera and *move* is false (the details list them
        with their current cartera), or a concurrent change won the race.
    """
    require_manager(actor)
    cartera = get_cartera(session, actor, cartera_id)
    wanted = list(dict.fromkeys(contact_ids))
    if not wanted:
        raise Invalid.field(
            "contact_ids", "must list at least one contact id", "membership.none_chosen"
        )
    contacts = list(
        session.scalars(
            select(Contact)
            .where(Contact.id.in_(wanted), visible_contacts(actor))
            .order_by(Contact.id)
        )
    )
    missing = sorted(set(wanted) - {c.id for c in contacts})
    if missing:
        raise Invalid(
            f"contact_ids: unknown contacts {missing}",
            {
                "fields": {"contact_ids": [f"unknown contacts {missing}"]},
                "missing_contact_ids": missing,
            },
        )
    others = [c for c in contacts if c.cartera_id not in (None, cartera.id)]
    if others and not move:
        raise _in_other(session, others)
    result = AddResult()
    for contact in contacts:
        change = assign(session, actor, contact, cartera, move=move)
        {"added": result.added, "moved": result.moved}.get(change, result.unchanged).append(
            contact.id
        )
    return result


def remove_contact(session: Session, actor: Actor, cartera_id: int, contact_id: int) -> None:
    """Take a contact out of a cartera (it keeps its history and is routed by default rules).

    :raise NotFound: no such cartera, or the contact is not in it.
    """
    require_manager(actor)
    cartera = get_cartera(session, actor, cartera_id)
    contact = session.get(Contact, contact_id)
    if contact is None or contact.cartera_id != cartera.id:
        raise NotFound(
            f"Contact {contact_id} is not in cartera {cartera_id}.",
            {"contact_id": contact_id, "cartera_id": cartera_id},
            rule="membership.not_member",
        )
    assign(session, actor, contact, None, move=True)


def remove_contacts(
    session: Session, actor: Actor, cartera_id: int, contact_ids: Iterable[int]
) -> list[int]:
    """Take several contacts out of a cartera; all or nothing.

    :raise NotFound: no such cartera, or one of them is not in it.
    """
    done = []
    for contact_id in dict.fromkeys(contact_ids):
        remove_contact(session, actor, cartera_id, contact_id)
        done.append(contact_id)
    return done


UNDO_SECONDS = 300  # how long after a change its author may undo it
MEMBERSHIP_EVENTS = ("contact_added", "contact_removed", "contact_moved")


def undo(
    session: Session, actor: Actor, event_ids: Iterable[int], *, now: datetime | None = None
) -> int:
    """Put the contacts of the author's recent membership changes back where they were:
    each undo is itself an audited change (``details.undo_of`` names the event); all or
    nothing. Returns how many contacts went back.

    :raise NotFound: an event that is not a membership change of the actor's own, or is
        older than UNDO_SECONDS (so nobody undoes another person's work).
    :raise Conflict: a contact changed cartera since (the undo would overwrite that).
    """
    require_manager(actor)
    moment = now or utcnow()
    wanted = list(dict.fromkeys(event_ids))
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.id.in_(wanted),
                AuditEvent.event.in_(MEMBERSHIP_EVENTS),
                AuditEvent.actor_user_id == actor.user_id,
                AuditEvent.occurred_at >= moment - timedelta(seconds=UNDO_SECONDS),
            )
            .order_by(AuditEvent.id.desc())
        )
    )
    if not wanted or len(events) != len(wanted) or actor.user_id is None:
        raise NotFound(
            "Nothing to undo: the change is not yours or is too old.",
            {"event_ids": wanted},
            rule="undo.expired",
        )
    for event in events:
        contact_id = int((event.after or {}).get("contact_id") or 0)
        contact = session.scalar(
            select(Contact).where(Contact.id == contact_id, visible_contacts(actor))
        )
        now_in = (event.after or {}).get("cartera_id")
        if contact is None or contact.cartera_id != now_in:
            raise Conflict(
                "The contact changed cartera since; undoing would overwrite that change.",
                {"event_id": event.id, "contact_id": contact_id},
                rule="undo.changed_since",
            )
        back_to = (event.before or {}).get("cartera_id")
        target = get_cartera(session, actor, back_to) if back_to is not None else None
        assign(session, actor, contact, target, move=True, details={"undo_of": event.id})
    return len(events)


def changes_of_request(session: Session, actor: Actor) -> list[int]:
    """The membership events the actor's current request wrote (what "Deshacer" undoes)."""
    if actor.request_id is None:
        return []
    return list(
        session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.request_id == actor.request_id,
                AuditEvent.actor_user_id == actor.user_id,
                AuditEvent.event.in_(MEMBERSHIP_EVENTS),
            )
        )
    )
