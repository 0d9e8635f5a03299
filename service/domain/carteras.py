"""Carteras: create, change, activate/deactivate, delete, list (domain rules 1, 3, 5, 6, 7)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service.domain import audit, regions
from service.domain.access import require_all_carteras, require_manager, visible_carteras
from service.domain.actor import Actor
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.names import clean_name, fold, name_key, optional_text, search_key
from service.domain.org import get_agent, get_team
from service.domain.pagination import Page, paginate
from service.domain.routing import validate_hours
from service.models import Cartera, Contact, Region

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
FIELDS = (
    "name",
    "icon",
    "color",
    "region_id",
    "description",
    "team_id",
    "agent_id",
    "active",
    "owner_timeout_seconds",
    "business_hours",
)


def snapshot(cartera: Cartera) -> dict[str, Any]:
    values = {field: getattr(cartera, field) for field in FIELDS}
    values["region"] = cartera.region.name if cartera.region is not None else None
    return values


def contact_count_of(cartera_id: Any) -> Any:
    """Correlated COUNT of a cartera's contacts (indexed on contacts.cartera_id)."""
    return (
        select(func.count(Contact.id))
        .where(Contact.cartera_id == cartera_id)
        .correlate_except(Contact)
        .scalar_subquery()
    )


def get_cartera(session: Session, actor: Actor, cartera_id: int) -> Cartera:
    """A cartera the actor may see.

    :raise NotFound: no such cartera, or an agent asked for one outside its carteras.
    """
    cartera = session.scalar(
        select(Cartera).where(Cartera.id == cartera_id, visible_carteras(actor))
    )
    if cartera is None:
        raise NotFound(
            f"Cartera {cartera_id} does not exist.",
            {"cartera_id": cartera_id},
            rule="cartera.not_found",
        )
    return cartera


def count_contacts(session: Session, cartera_id: int) -> int:
    return session.scalar(select(contact_count_of(cartera_id))) or 0


@dataclass(frozen=True)
class CarteraFilters:
    q: str | None = None
    active: bool | None = None
    team_id: int | None = None
    agent_id: int | None = None
    region_id: int | None = None  # a macroregion includes its regions


def list_carteras(
    session: Session, actor: Actor, filters: CarteraFilters, page: int, per_page: int
) -> Page[tuple[Cartera, int]]:
    """Visible carteras with their contact counts, by name."""
    stmt = select(Cartera, contact_count_of(Cartera.id)).where(visible_carteras(actor))
    if filters.q:
        text = filters.q.strip()
        stmt = stmt.where(Cartera.search_key.contains(fold(text), autoescape=True))
    if filters.active is not None:
        stmt = stmt.where(Cartera.active.is_(filters.active))
    if filters.team_id is not None:
        stmt = stmt.where(Cartera.team_id == filters.team_id)
    if filters.agent_id is not None:
        stmt = stmt.where(Cartera.agent_id == filters.agent_id)
    if filters.region_id is not None:
        stmt = stmt.where(Cartera.region_id.in_(regions.ids_within(session, filters.region_id)))
    return paginate(session, stmt.order_by(Cartera.name_key, Cartera.id), page, per_page, rows=True)


def all_visible(session: Session, actor: Actor) -> list[Cartera]:
    """Every cartera the actor may see, by name (for the pages' selects)."""
    return list(
        session.scalars(
            select(Cartera).where(visible_carteras(actor)).order_by(Cartera.name_key, Cartera.id)
        )
    )


def _apply(session: Session, cartera: Cartera, data: Mapping[str, Any]) -> None:
    if "name" in data:
        cartera.name = clean_name(data["name"])
        cartera.name_key = name_key(cartera.name)
        with session.no_autoflush:
            taken = session.scalar(select(Cartera.id).where(Cartera.name_key == cartera.name_key))
        if taken is not None and taken != cartera.id:
            raise Conflict(
                f"A cartera named {cartera.name!r} already exists (names ignore case).",
                {"field": "name", "existing_id": taken},
                rule="cartera.name_taken",
                name=cartera.name,
            )
    if "icon" in data:
        cartera.icon = clean_name(data["icon"] or "", "icon", 32)
    if "color" in data:
        color = optional_text(data["color"])
        if color is not None and not _COLOR.match(color):
            raise Invalid.field("color", "must be a colour like #1E88E5", "cartera.color")
        cartera.color = color.upper() if color else None
    if "description" in data:
        cartera.description = optional_text(data["description"])
    # region_id, or (as before regions were records) the region's name in "region"
    for field in ("region_id", "region"):
        if field in data:
            cartera.region_id = regions.resolve(session, field, data[field])
            cartera.region = (
                session.get(Region, cartera.region_id) if cartera.region_id is not None else None
            )
            break
    if "active" in data:
        cartera.active = bool(data["active"])
    if "owner_timeout_seconds" in data:
        cartera.owner_timeout_seconds = int(data["owner_timeout_seconds"] or 0)
    if "business_hours" in data:
        cartera.business_hours = validate_hours(data["business_hours"])
    cartera.search_key = search_key(
        cartera.name, cartera.region.name if cartera.region else None, cartera.description
    )
    _apply_owners(session, cartera, data)


def _apply_owners(session: Session, cartera: Cartera, data: Mapping[str, Any]) -> None:
    for field, getter in (("team_id", get_team), ("agent_id", get_agent)):
        if field in data:
            value = data[field]
            if value is not None:
                try:
                    getter(session, value)
                except NotFound:
                    raise Invalid.field(
                        field, f"no such {field[:-3]}: {value}", f"{field[:-3]}.not_found"
                    ) from None
            setattr(cartera, field, value)
    _check_owners(session, cartera)


def _check_owners(session: Session, cartera: Cartera) -> None:
    # Domain rule 1: a team, an agent, or both; and an agent owner must be in that team.
    if cartera.team_id is None and cartera.agent_id is None:
        error = Invalid(
            "A cartera needs a team, an agent, or both.",
            {
                "fields": {
                    "team_id": ["team_id or agent_id is required"],
                    "agent_id": ["team_id or agent_id is required"],
                }
            },
            rule="cartera.owner_required",
        )
        error.field_rules["team_id"] = ("cartera.owner_required", {})
        raise error
    if cartera.team_id is not None and cartera.agent_id is not None:
        agent = get_agent(session, cartera.agent_id)
        if cartera.team_id not in {t.id for t in agent.teams}:
            raise Invalid.field(
                "agent_id", "the agent is not a member of the cartera's team", "cartera.agent_team"
            )


def create_cartera(session: Session, actor: Actor, data: Mapping[str, Any]) -> Cartera:
    """Create a cartera (active unless told otherwise).

    :raise Invalid: missing owner, unknown team/agent, agent outside the team, bad colour.
    :raise Conflict: the name is taken, ignoring case.
    :raise Forbidden: an agent, or a coordinator without all carteras.
    """
    require_all_carteras(actor)
    cartera = Cartera(active=True, team_id=None, agent_id=None, owner_timeout_seconds=0)
    _apply(session, cartera, data)
    session.add(cartera)
    session.flush()
    audit.record(
        session, actor, "created", "cartera", cartera.id, cartera.name, after=snapshot(cartera)
    )
    return cartera


def update_cartera(
    session: Session, actor: Actor, cartera_id: int, data: Mapping[str, Any]
) -> Cartera:
    """Change fields; a change of ``active`` is audited as activated/deactivated.

    Past conversations keep the owners they were routed with (rule 6): only this row changes.

    :raise NotFound: no such cartera. :raise Invalid, Conflict: as for create.
    """
    require_manager(actor)
    cartera = get_cartera(session, actor, cartera_id)
    before = snapshot(cartera)
    _apply(session, cartera, data)
    after = snapshot(cartera)
    session.flush()
    state_changed = before["active"] != after["active"]
    audit.record_changes(
        session,
        actor,
        "cartera",
        cartera.id,
        cartera.name,
        {k: v for k, v in before.items() if k != "active"},
        {k: v for k, v in after.items() if k != "active"},
    )
    if state_changed:
        _record_state(session, actor, cartera)
    return cartera


def _record_state(session: Session, actor: Actor, cartera: Cartera) -> None:
    audit.record(
        session,
        actor,
        "activated" if cartera.active else "deactivated",
        "cartera",
        cartera.id,
        cartera.name,
        before={"active": not cartera.active},
        after={"active": cartera.active},
    )


def set_active(session: Session, actor: Actor, cartera_id: int, active: bool) -> Cartera:
    """Activate or deactivate; doing it again changes nothing and records nothing.

    Deactivating keeps contacts and history and stops tagging and owner routing (rule 6).
    """
    require_manager(actor)
    cartera = get_cartera(session, actor, cartera_id)
    if cartera.active != active:
        cartera.active = active
        session.flush()
        _record_state(session, actor, cartera)
    return cartera


def delete_cartera(session: Session, actor: Actor, cartera_id: int, *, force: bool) -> int:
    """Delete a cartera; returns how many contacts were unassigned.

    :raise Conflict: it still has contacts and *force* is false (deactivation is preferred:
        it keeps the contacts and their history).
    """
    require_manager(actor)
    cartera = get_cartera(session, actor, cartera_id)
    members = list(
        session.execute(
            select(Contact.id, Contact.name)
            .where(Contact.cartera_id == cartera.id)
            .order_by(Contact.id)
        )
    )
    if members and not force:
        raise Conflict(
            f"The cartera has {len(members)} contacts. Deactivate it instead to keep them and "
            "their history, or delete with ?force=true to unassign them.",
            {"contact_count": len(members)},
            rule="cartera.has_contacts",
            count=len(members),
        )
    if members:
        session.execute(
            update(Contact).where(Contact.cartera_id == cartera.id).values(cartera_id=None),
            execution_options={"synchronize_session": "fetch"},
        )
        for contact_id, contact_name in members:
            audit.record(
                session,
                actor,
                "contact_removed",
                "cartera",
                cartera.id,
                cartera.name,
                related_name=contact_name,
                related_id=contact_id,
                before={"contact_id": contact_id, "cartera_id": cartera.id},
                after={"contact_id": contact_id, "cartera_id": None},
                details={"reason": "cartera_deleted"},
            )
    before = snapshot(cartera)
    session.delete(cartera)
    session.flush()
    audit.record(
        session,
        actor,
        "deleted",
        "cartera",
        cartera_id,
        before["name"],
        before=before,
        details={"contacts_unassigned": len(members)},
    )
    return len(members)
