"""Routed conversations: /api/conversations (agents see their carteras' only)."""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import current_actor
from service.api.schemas import Id, PagingArgs, page_of
from service.domain import conversations as convs
from service.domain.messages import CHANNELS
from service.domain.pagination import Page
from service.extensions import db
from service.models import Conversation

bp = Blueprint("conversations", __name__, url_prefix="/api", description="Routed conversations")


class ConversationArgs(PagingArgs):
    contact_id = Id(load_default=None)
    cartera_id = Id(load_default=None)
    agent_id = Id(load_default=None)
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "closed")))
    from_ = fields.Date(load_default=None, data_key="from")
    to = fields.Date(load_default=None)


def _ref(id_field: str, name_field: str):  # type: ignore[no-untyped-def]
    return fields.Function(
        lambda c: (
            {"id": getattr(c, id_field), "name": getattr(c, name_field)}
            if getattr(c, id_field) is not None
            else None
        )
    )


class ConversationOut(Schema):
    id = fields.Integer()
    channel = fields.String()
    provider = fields.String()
    status = fields.String()
    thread_key = fields.String()
    contact_id = fields.Integer(allow_none=True)
    contact = fields.Function(
        lambda c: {"id": c.contact.id, "name": c.contact.name} if c.contact else None
    )
    cartera = fields.Function(
        lambda c: (
            {
                "id": c.cartera_id,
                "name": c.cartera_name,
                "icon": c.cartera_icon,
                "color": c.cartera_color,
            }
            if c.cartera_name
            else None
        ),
        metadata={"description": "as routed; later changes to the cartera do not rewrite it"},
    )
    team = _ref("team_id", "team_name")
    agent = _ref("agent_id", "agent_name")
    routed_to = fields.String(metadata={"description": "agent, team or queue"})
    department_id = fields.String(allow_none=True)
    reason = fields.String()
    trace = fields.Dict()
    room_id = fields.String(attribute="rc_room_id", allow_none=True)
    forwarded_to = fields.String(allow_none=True)
    forwarded_at = fields.DateTime(allow_none=True)
    owner_deadline_at = fields.DateTime(allow_none=True)
    taken_at = fields.DateTime(allow_none=True)
    fallback_at = fields.DateTime(allow_none=True)
    opened_at = fields.DateTime()
    last_message_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


ConversationPage = page_of(ConversationOut, "ConversationPage")


@bp.get("/conversations")
@bp.arguments(ConversationArgs, location="query", as_kwargs=True)
@bp.response(200, ConversationPage)
def list_conversations(
    contact_id: int | None,
    cartera_id: int | None,
    agent_id: int | None,
    channel: str | None,
    status: str | None,
    from_: date | None,
    to: date | None,
    page: int,
    per_page: int,
) -> Page[Conversation]:
    """Conversations, newest first, with the routing decision and its trace."""
    filters = convs.ConversationFilters(
        contact_id=contact_id,
        cartera_id=cartera_id,
        agent_id=agent_id,
        channel=channel,
        status=status,
        date_from=from_,
        date_to=to,
    )
    return convs.list_conversations(
        db.session(),
        current_actor(),
        filters,
        tz=current_app.config["CARTERAS"].tz,
        page=page,
        per_page=per_page,
    )


@bp.get("/conversations/<bigid:conversation_id>")
@bp.response(200, ConversationOut)
def get_conversation(conversation_id: int) -> Conversation:
    return convs.get_conversation(db.session(), current_actor(), conversation_id)
