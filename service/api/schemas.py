"""Request and response shapes of the REST API; also the source of /openapi.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, pre_dump, validate

from service.domain import carteras as carteras_domain
from service.domain import regions as regions_domain
from service.domain.audit import COUNT_LIMIT, EVENTS, RESOURCE_TYPES
from service.domain.contacts import values_of
from service.domain.identity import EMAIL, PHONE
from service.domain.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE
from service.domain.periods import PERIODS

Text = validate.Length(max=200)
ID_RANGE = validate.Range(min=1, max=2**31 - 1)  # INTEGER keys on PostgreSQL


class Whole(fields.Integer):
    """An integer: a JSON number with a point (``1.5``, ``2.0``) is refused, where
    ``fields.Integer`` would truncate it; query strings (``"7"``) still parse.
    (``strict=True`` would refuse query strings too.)"""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float):
            raise self.make_error("invalid")
        return int(super()._validated(value))


def Id(**options: Any) -> fields.Integer:  # noqa: N802 (reads like the field classes)
    """A row id: positive and within INTEGER, so no query or body overflows the database."""
    return Whole(validate=ID_RANGE, **options)


class PagingArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE)
    )


class SearchArgs(PagingArgs):
    q = fields.String(load_default=None, validate=Text)


def page_of(item: type[Schema], name: str, *, capped: bool = False) -> type[Schema]:
    """The list envelope ``{"items", "total", "page", "per_page"}`` around *item*; *capped*
    adds ``total_exact`` for a list whose count may stop early."""
    envelope: dict[str, fields.Field[Any]] = {
        "items": fields.List(fields.Nested(item), required=True),
        "total": fields.Integer(required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
    }
    if capped:
        envelope["total"] = fields.Integer(
            required=True,
            metadata={"description": "matching items; a lower bound when total_exact is false"},
        )
        envelope["total_exact"] = fields.Boolean(
            required=True,
            metadata={
                "description": "false when the count stopped early (the audit log stops at "
                f"{COUNT_LIMIT}, or at the end of the page asked for if further): there are "
                "more than `total` items, and more pages after the last one `total` makes"
            },
        )
    return Schema.from_dict(envelope, name=name)


class Ref(Schema):
    id = fields.Integer()
    name = fields.String()


# ---- teams and agents -------------------------------------------------------------------------
class TeamIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    rocketchat_department_id = fields.String(allow_none=True, validate=validate.Length(max=64))


class TeamPatch(TeamIn):
    """Any subset of TeamIn's fields."""


class TeamOut(Schema):
    id = fields.Integer()
    name = fields.String()
    rocketchat_department_id = fields.String(allow_none=True)
    agent_ids = fields.Function(lambda team: [a.id for a in team.agents])
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class AgentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    email = fields.String(allow_none=True, validate=validate.Length(max=320))
    rocketchat_user_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    rocketchat_username = fields.String(allow_none=True, validate=validate.Length(max=120))
    active = fields.Boolean()
    team_ids = fields.List(Id(), validate=validate.Length(max=100))
    max_open_chats = Whole(
        allow_none=True,
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "open conversations beyond which the team gets new ones"},
    )


class AgentPatch(AgentIn):
    """Any subset of AgentIn's fields."""


class HandoverIn(Schema):
    to_agent_id = Id(
        required=True,
        allow_none=True,
        metadata={"description": "the new owner; null = team only (the team serves them)"},
    )
    deactivate_agent = fields.Boolean(load_default=False)
    open_conversations = fields.String(
        load_default="leave",
        validate=validate.OneOf(("reforward", "leave")),
        metadata={"description": "reforward: send open conversations to the new owner now"},
    )


class HandoverArgs(Schema):
    dry_run = fields.Boolean(load_default=False)


class HandoverOut(Schema):
    agent_id = Id()
    agent_name = fields.String()
    to_agent_id = Id(allow_none=True)
    to_agent_name = fields.String(allow_none=True)
    deactivate_agent = fields.Boolean()
    open_conversations = fields.String()
    carteras = fields.List(fields.Dict())
    conversation_ids = fields.List(fields.Integer())
    applied = fields.Boolean()


class HistoryOut(Schema):
    contact_id = Id()
    contact_name = fields.String()
    carteras = fields.List(fields.Integer())
    timeline = fields.List(fields.Dict())


class AgentArgs(SearchArgs):
    team_id = Id(load_default=None)
    active = fields.Boolean(load_default=None)


class AgentOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    rocketchat_user_id = fields.String(allow_none=True)
    rocketchat_username = fields.String(allow_none=True)
    active = fields.Boolean()
    max_open_chats = fields.Integer(allow_none=True)
    team_ids = fields.Function(lambda agent: [t.id for t in agent.teams])
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


# ---- carteras ---------------------------------------------------------------------------------
class CarteraIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    icon = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"description": "an emoji or a short icon name", "example": "💼"},
    )
    color = fields.String(allow_none=True, metadata={"example": "#1E88E5"})
    region_id = Id(
        allow_none=True,
        metadata={"description": "the default region of its contacts (/api/regions)"},
    )
    region = fields.String(
        allow_none=True,
        validate=validate.Length(max=120),
        metadata={"description": "the region by name, instead of region_id"},
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    team_id = Id(allow_none=True)
    agent_id = Id(allow_none=True)
    active = fields.Boolean()
    owner_timeout_seconds = Whole(
        validate=validate.Range(min=0, max=86400),
        metadata={
            "description": "seconds the owner has to answer before the team gets it; 0 = no wait"
        },
    )
    business_hours = fields.Dict(
        allow_none=True,
        metadata={
            "description": "owner hours; outside them the team gets the conversation",
            "example": {"timezone": "America/Mexico_City", "weekly": {"mon": [["09:00", "18:00"]]}},
        },
    )


class CarteraPatch(CarteraIn):
    """Any subset of CarteraIn's fields."""


class CarteraArgs(SearchArgs):
    active = fields.Boolean(load_default=None)
    team_id = Id(load_default=None)
    agent_id = Id(load_default=None)
    region_id = Id(
        load_default=None, metadata={"description": "a macroregion includes its regions"}
    )


@dataclass(frozen=True)
class CarteraWithCount:
    """A cartera and its number of contacts, as the API shows it."""

    cartera: Any
    contact_count: int


class CarteraOut(Schema):
    id = fields.Integer()
    name = fields.String()
    icon = fields.String()
    color = fields.String(allow_none=True)
    region_id = Id(allow_none=True)
    region = fields.String(allow_none=True, metadata={"description": "the region's name"})
    description = fields.String(allow_none=True)
    team_id = Id(allow_none=True)
    agent_id = Id(allow_none=True)
    team = fields.Nested(Ref, allow_none=True)
    agent = fields.Nested(Ref, allow_none=True)
    active = fields.Boolean()
    owner_timeout_seconds = fields.Integer()
    business_hours = fields.Dict(allow_none=True)
    contact_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    @pre_dump
    def _with_count(self, data: Any, **_: Any) -> Any:
        # Lists hold (cartera, count) rows; single views hand over a CarteraWithCount.
        if isinstance(data, CarteraWithCount):
            data = (data.cartera, data.contact_count)
        if isinstance(data, tuple):
            cartera, count = data
            out = {
                f: getattr(cartera, f)
                for f in (
                    *carteras_domain.FIELDS,
                    "id",
                    "team",
                    "agent",
                    "created_at",
                    "updated_at",
                )
            }
            region = cartera.region.name if cartera.region is not None else None
            return {**out, "region": region, "contact_count": count}
        return data


class DeleteArgs(Schema):
    force = fields.Boolean(load_default=False)


class AddContactsIn(Schema):
    contact_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=10000))
    move = fields.Boolean(load_default=False)


class AddContactsOut(Schema):
    added = fields.List(fields.Integer())
    moved = fields.List(fields.Integer())
    unchanged = fields.List(fields.Integer())


# ---- contacts ---------------------------------------------------------------------------------
class ContactIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    phones = fields.List(
        fields.String(validate=validate.Length(max=64)),
        validate=validate.Length(max=20),
        metadata={"description": "any written form; stored as E.164"},
    )
    emails = fields.List(
        fields.String(validate=validate.Length(max=320)), validate=validate.Length(max=20)
    )
    external_ref = fields.String(allow_none=True, validate=validate.Length(max=120))
    company = fields.String(allow_none=True, validate=Text)
    notes = fields.String(allow_none=True, validate=validate.Length(max=5000))
    cartera_id = Id(allow_none=True)
    region_id = Id(
        allow_none=True,
        metadata={"description": "its own region; null = its cartera's default region"},
    )


class ContactPatch(ContactIn):
    move = fields.Boolean(
        load_default=False,
        metadata={"description": "allow moving the contact out of another cartera"},
    )


class ContactFilterArgs(Schema):
    q = fields.String(load_default=None, validate=Text)
    cartera_id = Id(load_default=None)
    unassigned = fields.Boolean(load_default=None)
    region_id = Id(
        load_default=None,
        metadata={"description": "its region (own or its cartera's); a macroregion includes its"},
    )
    company = fields.String(
        load_default=None,
        validate=Text,
        metadata={"description": "the company contains it (ignoring case)"},
    )


class ContactArgs(ContactFilterArgs, PagingArgs):
    pass


class ExportArgs(ContactFilterArgs):
    format = fields.String(
        load_default="csv",
        validate=validate.OneOf(("csv", "xlsx")),
        metadata={"description": "csv (UTF-8) or xlsx (Excel)"},
    )
    headers = fields.String(
        load_default="en",
        validate=validate.OneOf(("en", "es")),
        metadata={"description": "column names: the import's (en) or Spanish (es)"},
    )


class CarteraBadge(Schema):
    id = fields.Integer()
    name = fields.String()
    icon = fields.String()
    color = fields.String(allow_none=True)
    active = fields.Boolean()


def _region_of(contact: Any) -> dict[str, Any] | None:
    region = regions_domain.effective(contact)
    if region is None:
        return None
    return {"id": region.id, "name": region.name, "inherited": contact.region_id is None}


class ContactOut(Schema):
    id = fields.Integer()
    name = fields.String()
    phones = fields.Function(lambda c: values_of(c, PHONE))
    emails = fields.Function(lambda c: values_of(c, EMAIL))
    external_ref = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    cartera_id = Id(allow_none=True)
    cartera = fields.Nested(CarteraBadge, allow_none=True)
    region_id = Id(allow_none=True, metadata={"description": "its own region, if set"})
    region = fields.Function(
        lambda c: _region_of(c),
        metadata={"description": "{id, name, inherited}: its own region or its cartera's"},
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ImportArgs(Schema):
    move = fields.Boolean(
        load_default=False,
        metadata={
            "description": "move contacts whose row names another cartera (otherwise such "
            "rows are rejected)"
        },
    )
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "answer what the import would do, and save nothing"},
    )


class RowErrorOut(Schema):
    row = fields.Integer()
    field = fields.String(allow_none=True)
    message = fields.String()


class MovedOut(Schema):
    contact_id = fields.Integer(allow_none=True)
    name = fields.String()
    before = fields.String(allow_none=True, metadata={"description": "the cartera it left"})
    after = fields.String(allow_none=True, metadata={"description": "the cartera it went to"})


class RenamedOut(Schema):
    row = fields.Integer()
    contact_id = fields.Integer(allow_none=True)
    before = fields.String()
    after = fields.String()


class ImportOut(Schema):
    rows = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    moved = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorOut))
    renamed = fields.List(
        fields.Nested(RenamedOut),
        metadata={"description": "existing contacts a row renamed (each audited)"},
    )
    moves = fields.List(
        fields.Nested(MovedOut),
        metadata={"description": "contacts a row moved out of another cartera (each audited)"},
    )


# ---- audit ------------------------------------------------------------------------------------
class AuditArgs(SearchArgs):
    event = fields.String(load_default=None, validate=validate.OneOf(EVENTS))
    resource_type = fields.String(load_default=None, validate=validate.OneOf(RESOURCE_TYPES))
    resource_id = Id(load_default=None)
    period = fields.String(load_default=None, validate=validate.OneOf(PERIODS))
    from_ = fields.Date(load_default=None, data_key="from")
    to = fields.Date(load_default=None)


class ActorOut(Schema):
    user_id = fields.Integer(allow_none=True, attribute="actor_user_id")
    name = fields.String(attribute="actor_name")


class AuditOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor = fields.Function(lambda e: ActorOut().dump(e))
    event = fields.String()
    resource_type = fields.String()
    resource_id = Id(allow_none=True)
    resource_name = fields.String(allow_none=True)
    related_name = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    details = fields.Dict(allow_none=True)
    request_id = fields.String(allow_none=True)
    summary = fields.String(
        metadata={"description": "the event as a Spanish sentence, with names instead of ids"}
    )
    names = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        metadata={
            "description": "the ids the summary resolved, by kind, to today's names: "
            '{"team": {"3": "Norte"}, "cartera": {"7": "Premium"}}'
        },
    )


TeamPage = page_of(TeamOut, "TeamPage")
AgentPage = page_of(AgentOut, "AgentPage")
CarteraPage = page_of(CarteraOut, "CarteraPage")
ContactPage = page_of(ContactOut, "ContactPage")
AuditPage = page_of(AuditOut, "AuditPage", capped=True)


class HealthOut(Schema):
    status = fields.String()
    checks = fields.Dict()
