"""Regions: /api/regions (issue 12). Everyone signed in reads them; creating, changing and
deleting them needs a manager with every cartera."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import current_actor
from service.api.schemas import Id, Ref, SearchArgs, page_of
from service.domain import regions
from service.domain.pagination import Page
from service.extensions import db
from service.models import Region

bp = Blueprint("regions", __name__, url_prefix="/api", description="Regions and macroregions")


class RegionArgs(SearchArgs):
    parent_id = Id(load_default=None, metadata={"description": "a macroregion's regions"})


class RegionIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=regions.NAME_LENGTH))
    parent_id = Id(
        allow_none=True, metadata={"description": "the macroregion it belongs to, if any"}
    )


class RegionPatch(RegionIn):
    """Any subset of RegionIn's fields."""


class RegionOut(Schema):
    id = fields.Integer()
    name = fields.String()
    parent_id = Id(allow_none=True)
    parent = fields.Nested(Ref, allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


RegionPage = page_of(RegionOut, "RegionPage")


@bp.get("/regions")
@bp.arguments(RegionArgs, location="query", as_kwargs=True)
@bp.response(200, RegionPage)
def list_regions(q: str | None, parent_id: int | None, page: int, per_page: int) -> Page[Region]:
    """List regions by name (``parent_id``: a macroregion's regions)."""
    return regions.list_regions(db.session(), q, parent_id, page, per_page)


@bp.post("/regions")
@bp.arguments(RegionIn)
@bp.response(201, RegionOut)
def create_region(data: dict[str, Any]) -> Region:
    """Create a region; names are unique ignoring case. A macroregion is a region other
    regions name as their ``parent_id`` (one level)."""
    region = regions.create_region(db.session(), current_actor(), data)
    db.session.commit()
    return region


@bp.get("/regions/<id:region_id>")
@bp.response(200, RegionOut)
def get_region(region_id: int) -> Region:
    return regions.get_region(db.session(), region_id)


@bp.patch("/regions/<id:region_id>")
@bp.arguments(RegionPatch(partial=True))
@bp.response(200, RegionOut)
def update_region(data: dict[str, Any], region_id: int) -> Region:
    region = regions.update_region(db.session(), current_actor(), region_id, data)
    db.session.commit()
    return region


@bp.delete("/regions/<id:region_id>")
@bp.response(204)
def delete_region(region_id: int) -> None:
    """Delete a region; refused (409) while carteras, contacts or regions use it."""
    regions.delete_region(db.session(), current_actor(), region_id)
    db.session.commit()
