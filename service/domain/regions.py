"""Regions (issue 12; DESIGN.md "Access"): Norte, Centro, Sur, ..., optionally grouped under a
macroregion. A cartera has a default region; a contact's region is its own when set, its
cartera's otherwise (so moving a contact keeps an explicit region and follows the new
cartera's default otherwise). Filtering by a macroregion includes its regions.

Everyone signed in reads regions (they name filters); creating, renaming and deleting them
needs a manager with every cartera.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from service.domain import audit
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.names import clean_name, name_key, search_key
from service.domain.pagination import Page, paginate
from service.models import Cartera, Contact, Region

NAME_LENGTH = 80


def snapshot(region: Region) -> dict[str, Any]:
    return {
        "name": region.name,
        "parent_id": region.parent_id,
        "parent": region.parent.name if region.parent is not None else None,
    }


def get_region(session: Session, region_id: int) -> Region:
    """:raise NotFound: no such region."""
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(
            f"Region {region_id} does not exist.", {"region_id": region_id}, rule="region.not_found"
        )
    return region


def find_by_name(session: Session, name: str) -> Region | None:
    """The region named *name*, ignoring case and spacing."""
    return session.scalar(select(Region).where(Region.name_key == name_key(name)))


def list_regions(
    session: Session, q: str | None, parent_id: int | None, page: int, per_page: int
) -> Page[Region]:
    """Regions by name; *parent_id* keeps a macroregion's regions."""
    stmt = select(Region).order_by(Region.name_key, Region.id)
    if q and q.strip():
        stmt = stmt.where(Region.name_key.contains(name_key(q), autoescape=True))
    if parent_id is not None:
        stmt = stmt.where(Region.parent_id == parent_id)
    return paginate(session, stmt, page, per_page)


def all_regions(session: Session) -> list[Region]:
    """Every region by name (a short list: for the pages' selects)."""
    return list(session.scalars(select(Region).order_by(Region.name_key, Region.id)))


def ids_within(session: Session, region_id: int) -> list[int]:
    """*region_id* and, for a macroregion, its regions.

    :raise Invalid: no such region (the caller's ``region_id`` filter names it).
    """
    if session.get(Region, region_id) is None:
        raise Invalid.field("region_id", f"no such region: {region_id}", "region.not_found")
    children = session.scalars(select(Region.id).where(Region.parent_id == region_id))
    return [region_id, *children]


def contact_region_id() -> ColumnElement[Any]:
    """SQL: a contact's region, its own or its cartera's (needs Contact's cartera reachable;
    a correlated subquery so it works in any statement over Contact)."""
    default = (
        select(Cartera.region_id)
        .where(Cartera.id == Contact.cartera_id)
        .correlate_except(Cartera)
        .scalar_subquery()
    )
    return func.coalesce(Contact.region_id, default)


def effective(contact: Contact) -> Region | None:
    """The region a contact has: its own, or its cartera's default."""
    if contact.region is not None:
        return contact.region
    return contact.cartera.region if contact.cartera is not None else None


def resolve(session: Session, field: str, value: Any) -> int | None:
    """A region reference given by id or name (blank = none) as an id.

    :raise Invalid: naming *field*, when no such region exists.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if session.get(Region, value) is None:
            raise Invalid.field(field, f"no such region: {value}", "region.not_found")
        return value
    found = find_by_name(session, str(value))
    if found is None:
        name = str(value).strip()
        raise Invalid.field(field, f"no region named {name!r}", "region.unknown_name", name=name)
    return found.id


def _apply(session: Session, region: Region, data: Mapping[str, Any]) -> None:
    if "name" in data:
        region.name = clean_name(data["name"] or "", max_length=NAME_LENGTH)
        region.name_key = name_key(region.name)
        with session.no_autoflush:
            taken = session.scalar(select(Region.id).where(Region.name_key == region.name_key))
        if taken is not None and taken != region.id:
            raise Conflict(
                f"A region named {region.name!r} already exists (names ignore case).",
                {"field": "name", "existing_id": taken},
                rule="region.name_taken",
                name=region.name,
            )
    if "parent_id" in data:
        parent_id = data["parent_id"]
        if parent_id is not None:
            parent = session.get(Region, parent_id)
            if parent is None:
                raise Invalid.field("parent_id", f"no such region: {parent_id}", "region.not_found")
            if parent.id == region.id:
                raise Invalid.field(
                    "parent_id", "a region cannot contain itself", "region.parent_itself"
                )
            if parent.parent_id is not None:
                raise Invalid.field(
                    "parent_id",
                    "a macroregion cannot belong to another macroregion",
                    "region.parent_nested",
                )
            if region.id is not None and session.scalar(
                select(Region.id).where(Region.parent_id == region.id).limit(1)
            ):
                raise Invalid.field(
                    "parent_id",
                    "this region is a macroregion: it cannot belong to another",
                    "region.is_macroregion",
                )
        region.parent_id = parent_id
        region.parent = session.get(Region, parent_id) if parent_id is not None else None


def create_region(session: Session, actor: Actor, data: Mapping[str, Any]) -> Region:
    """:raise Conflict: the name is taken, ignoring case. :raise Invalid: bad name or parent.
    :raise Forbidden: not a manager with every cartera."""
    require_all_carteras(actor)
    region = Region()
    _apply(session, region, {"parent_id": None, **data})
    session.add(region)
    session.flush()
    audit.record(
        session, actor, "created", "region", region.id, region.name, after=snapshot(region)
    )
    return region


def update_region(
    session: Session, actor: Actor, region_id: int, data: Mapping[str, Any]
) -> Region:
    """Rename or regroup a region; the carteras in it are found by the new name at once.

    :raise NotFound, Conflict, Invalid, Forbidden: as for create."""
    require_all_carteras(actor)
    region = get_region(session, region_id)
    before = snapshot(region)
    _apply(session, region, data)
    session.flush()
    if before["name"] != region.name:
        _reindex_carteras(session, region.id)
    audit.record_changes(session, actor, "region", region.id, region.name, before, snapshot(region))
    return region


def delete_region(session: Session, actor: Actor, region_id: int) -> None:
    """:raise Conflict: carteras, contacts or regions still use it (say how many)."""
    require_all_carteras(actor)
    region = get_region(session, region_id)
    in_use = {
        "carteras": session.scalar(
            select(func.count(Cartera.id)).where(Cartera.region_id == region_id)
        )
        or 0,
        "contacts": session.scalar(
            select(func.count(Contact.id)).where(Contact.region_id == region_id)
        )
        or 0,
        "regions": session.scalar(
            select(func.count(Region.id)).where(Region.parent_id == region_id)
        )
        or 0,
    }
    if any(in_use.values()):
        raise Conflict(
            "The region is still in use; move its carteras, contacts and regions first.",
            {"region_id": region_id, **in_use},
            rule="region.in_use",
            **in_use,
        )
    before = snapshot(region)
    session.delete(region)
    session.flush()
    audit.record(session, actor, "deleted", "region", region_id, before["name"], before=before)


def _reindex_carteras(session: Session, region_id: int) -> None:
    """Carteras are found by their region's name in the list search: refresh their keys."""
    rows = session.execute(
        select(Cartera.id, Cartera.name, Cartera.description, Region.name)
        .join(Region, Cartera.region_id == Region.id)
        .where(Cartera.region_id == region_id)
    ).all()
    if rows:
        session.execute(
            update(Cartera),
            [
                {"id": cid, "search_key": search_key(name, region, description)}
                for cid, name, description, region in rows
            ],
        )
