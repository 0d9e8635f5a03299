"""Access rules (domain rule 5, DESIGN.md "Access"): who may change things and which
carteras, contacts and conversations each user sees. Every list, count, search, export,
history, page and live room asks here.

- admins, and users with ``all_carteras``: every cartera and contact (agents still read only);
- a coordinator without it (a regional supervisor): its granted carteras;
- an agent: the carteras it owns, the shared (team-only) carteras of its teams, its grants;
  never a colleague's own cartera unless granted;
- everyone: contacts without a cartera; an agent also the contacts of the open
  conversations it serves.

Must not import flask.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from service.domain.actor import Actor
from service.domain.errors import Forbidden
from service.models import AuditEvent, Cartera, Contact, Conversation, agent_teams


def require_manager(actor: Actor) -> None:
    """:raise Forbidden: the actor is an agent, who may read but not change carteras."""
    if not actor.is_manager:
        raise Forbidden(
            "This action needs the admin or coordinator role.",
            {"role": actor.role},
            rule="access.managers_only",
        )


def require_all_carteras(actor: Actor) -> None:
    """Creating carteras, teams, agents and the service's own records (inbox, outbox,
    handovers) needs a manager with every cartera.

    :raise Forbidden: an agent, or a coordinator limited to some carteras.
    """
    require_manager(actor)
    if not actor.manages_all:
        raise Forbidden(
            "This action needs access to all carteras.",
            {"role": actor.role, "all_carteras": False},
            rule="access.all_carteras_only",
        )


def require_admin(actor: Actor) -> None:
    """:raise Forbidden: the actor is not an admin."""
    if not actor.is_admin:
        raise Forbidden(
            "This action needs the admin role.", {"role": actor.role}, rule="access.admins_only"
        )


def _granted(actor: Actor) -> ColumnElement[bool]:
    return Cartera.id.in_(sorted(actor.cartera_ids)) if actor.cartera_ids else false()


def visible_carteras(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Cartera: the carteras *actor* may see (module docstring)."""
    if actor.sees_all:
        return true()
    if actor.role != "agent":
        return _granted(actor)
    if actor.agent_id is None:
        return _granted(actor)
    own_teams = select(agent_teams.c.team_id).where(agent_teams.c.agent_id == actor.agent_id)
    shared = Cartera.agent_id.is_(None) & Cartera.team_id.in_(own_teams)
    return or_(Cartera.agent_id == actor.agent_id, shared, _granted(actor))


def serving(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Conversation: open conversations routed to *actor*'s agent, or that
    Rocket.Chat says it serves (a team fallback it took, a transfer to it)."""
    if actor.role != "agent" or actor.agent_id is None:
        return false()
    return (Conversation.status == "open") & or_(
        Conversation.agent_id == actor.agent_id,
        Conversation.served_by_agent_id == actor.agent_id,
    )


def visible_contacts(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Contact: those of the visible carteras, those without a cartera, and
    (agents) those of the open conversations they serve."""
    if actor.sees_all:
        return true()
    conditions = [
        Contact.cartera_id.is_(None),
        Contact.cartera_id.in_(select(Cartera.id).where(visible_carteras(actor))),
    ]
    if actor.role == "agent" and actor.agent_id is not None:
        conditions.append(
            Contact.id.in_(
                select(Conversation.contact_id).where(
                    serving(actor), Conversation.contact_id.is_not(None)
                )
            )
        )
    return or_(*conditions)


def visible_conversations(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Conversation: those routed under a visible cartera (the cartera
    recorded when it was routed, not the contact's now), those routed with no cartera, and
    (agents) the open ones they serve."""
    if actor.sees_all:
        return true()
    return or_(
        Conversation.cartera_id.is_(None),
        Conversation.cartera_id.in_(select(Cartera.id).where(visible_carteras(actor))),
        serving(actor),
    )


def visible_audit(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on AuditEvent: everything for those who see every cartera; else the
    events of the visible carteras (their membership changes included) and contacts."""
    if actor.sees_all:
        return true()
    carteras = select(Cartera.id).where(visible_carteras(actor))
    contacts = select(Contact.id).where(visible_contacts(actor))
    return or_(
        (AuditEvent.resource_type == "cartera") & AuditEvent.resource_id.in_(carteras),
        (AuditEvent.resource_type == "contact") & AuditEvent.resource_id.in_(contacts),
    )
