"""Access rules (domain rule 5): who may change things and which carteras an agent sees."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true

from service.domain.actor import Actor
from service.domain.errors import Forbidden
from service.models import Cartera, Contact, agent_teams


def require_manager(actor: Actor) -> None:
    """:raise Forbidden: the actor is an agent, who may read but not change carteras."""
    if not actor.is_manager:
        raise Forbidden("This action needs the admin or coordinator role.", {"role": actor.role})


def require_admin(actor: Actor) -> None:
    """:raise Forbidden: the actor is not an admin."""
    if not actor.is_admin:
        raise Forbidden("This action needs the admin role.", {"role": actor.role})


def visible_carteras(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Cartera: all for managers; for an agent, the carteras it owns or
    whose team it belongs to (shared, team-only carteras included)."""
    if actor.is_manager:
        return true()
    agent_id = actor.agent_id if actor.agent_id is not None else -1
    own_teams = select(agent_teams.c.team_id).where(agent_teams.c.agent_id == agent_id)
    return or_(Cartera.agent_id == agent_id, Cartera.team_id.in_(own_teams))


def visible_contacts(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on Contact: an agent sees only contacts of its visible carteras."""
    if actor.is_manager:
        return true()
    return Contact.cartera_id.in_(select(Cartera.id).where(visible_carteras(actor)))
