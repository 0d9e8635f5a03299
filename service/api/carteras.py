"""Carteras endpoints: CRUD, activate/deactivate, and the contacts of a cartera."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from service.api.auth import current_actor
from service.api.schemas import (
    AddContactsIn,
    AddContactsOut,
    CarteraArgs,
    CarteraIn,
    CarteraOut,
    CarteraPage,
    CarteraPatch,
    CarteraWithCount,
    ContactPage,
    DeleteArgs,
    SearchArgs,
)
from service.domain import carteras, contacts, membership
from service.domain.pagination import Page
from service.extensions import db
from service.models import Cartera, Contact

bp = Blueprint("carteras", __name__, url_prefix="/api", description="Carteras (portfolios)")


def _with_count(cartera: Cartera) -> CarteraWithCount:
    return CarteraWithCount(cartera, carteras.count_contacts(db.session(), cartera.id))


@bp.get("/carteras")
@bp.arguments(CarteraArgs, location="query", as_kwargs=True)
@bp.response(200, CarteraPage)
def list_carteras(
    q: str | None,
    active: bool | None,
    team_id: int | None,
    agent_id: int | None,
    region_id: int | None,
    page: int,
    per_page: int,
) -> Page[tuple[Cartera, int]]:
    """List the carteras the caller may see, with their contact counts."""
    filters = carteras.CarteraFilters(
        q=q, active=active, team_id=team_id, agent_id=agent_id, region_id=region_id
    )
    return carteras.list_carteras(db.session(), current_actor(), filters, page, per_page)


@bp.post("/carteras")
@bp.arguments(CarteraIn)
@bp.response(201, CarteraOut)
def create_cartera(data: dict[str, Any]) -> CarteraWithCount:
    """Create a cartera owned by a team, an agent, or both."""
    cartera = carteras.create_cartera(db.session(), current_actor(), data)
    db.session.commit()
    return CarteraWithCount(cartera, 0)


@bp.get("/carteras/<id:cartera_id>")
@bp.response(200, CarteraOut)
def get_cartera(cartera_id: int) -> CarteraWithCount:
    return _with_count(carteras.get_cartera(db.session(), current_actor(), cartera_id))


@bp.patch("/carteras/<id:cartera_id>")
@bp.arguments(CarteraPatch(partial=True))
@bp.response(200, CarteraOut)
def update_cartera(data: dict[str, Any], cartera_id: int) -> CarteraWithCount:
    cartera = carteras.update_cartera(db.session(), current_actor(), cartera_id, data)
    db.session.commit()
    return _with_count(cartera)


@bp.delete("/carteras/<id:cartera_id>")
@bp.arguments(DeleteArgs, location="query", as_kwargs=True)
@bp.response(204)
def delete_cartera(cartera_id: int, force: bool) -> None:
    """Delete a cartera. With contacts it is refused (409) unless ``?force=true``, which
    unassigns them; deactivating is usually the better choice."""
    carteras.delete_cartera(db.session(), current_actor(), cartera_id, force=force)
    db.session.commit()


@bp.post("/carteras/<id:cartera_id>/activate")
@bp.response(200, CarteraOut)
def activate(cartera_id: int) -> CarteraWithCount:
    cartera = carteras.set_active(db.session(), current_actor(), cartera_id, True)
    db.session.commit()
    return _with_count(cartera)


@bp.post("/carteras/<id:cartera_id>/deactivate")
@bp.response(200, CarteraOut)
def deactivate(cartera_id: int) -> CarteraWithCount:
    """Stop tagging and owner routing for the cartera; its contacts and history stay."""
    cartera = carteras.set_active(db.session(), current_actor(), cartera_id, False)
    db.session.commit()
    return _with_count(cartera)


@bp.get("/carteras/<id:cartera_id>/contacts")
@bp.arguments(SearchArgs, location="query", as_kwargs=True)
@bp.response(200, ContactPage)
def list_members(cartera_id: int, q: str | None, page: int, per_page: int) -> Page[Contact]:
    """The contacts in a cartera, searchable like /api/contacts."""
    actor = current_actor()
    carteras.get_cartera(db.session(), actor, cartera_id)
    filters = contacts.ContactFilters(q=q, cartera_id=cartera_id)
    region = current_app.config["CARTERAS"].default_phone_region
    return contacts.list_contacts(
        db.session(), actor, filters, region=region, page=page, per_page=per_page
    )


@bp.post("/carteras/<id:cartera_id>/contacts")
@bp.arguments(AddContactsIn)
@bp.response(200, AddContactsOut)
def add_members(data: dict[str, Any], cartera_id: int) -> membership.AddResult:
    """Add contacts. Contacts already in another cartera give 409 (listing them with their
    cartera) unless ``"move": true``; nothing is changed on a 409."""
    result = membership.add_contacts(
        db.session(), current_actor(), cartera_id, data["contact_ids"], move=data["move"]
    )
    db.session.commit()
    return result


@bp.delete("/carteras/<id:cartera_id>/contacts/<id:contact_id>")
@bp.response(204)
def remove_member(cartera_id: int, contact_id: int) -> None:
    membership.remove_contact(db.session(), current_actor(), cartera_id, contact_id)
    db.session.commit()
