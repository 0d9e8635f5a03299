"""What arrived through the webhooks: /api/inbox (admins and coordinators)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import current_actor
from service.api.schemas import PagingArgs, page_of
from service.domain import intake, outbound, templates
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.messages import PROVIDERS
from service.domain.pagination import Page
from service.extensions import db
from service.jobs.enqueue import enqueue_replies
from service.models import INBOX_STATUSES, InboxMessage, OutboundMessage

bp = Blueprint("inbox", __name__, url_prefix="/api", description="Inbound messages")


class InboxArgs(PagingArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(INBOX_STATUSES))
    provider = fields.String(load_default=None, validate=validate.OneOf(PROVIDERS))


class InboxOut(Schema):
    id = fields.Integer()
    provider = fields.String()
    channel = fields.String()
    external_id = fields.String()
    kind = fields.String()
    sender = fields.Function(
        lambda row: (
            {
                "kind": row.sender_kind,
                "value": row.sender_value,
                "raw": row.sender_raw,
                "name": row.sender_name,
            }
            if row.sender_kind
            else None
        )
    )
    recipient = fields.String(allow_none=True)
    thread_key = fields.String(allow_none=True)
    text = fields.String(allow_none=True)
    attachments = fields.List(fields.Dict())
    sent_at = fields.DateTime()
    received_at = fields.DateTime()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    # status "waiting": Rocket.Chat asked to wait (last_error says why) until this time
    not_before = fields.DateTime(allow_none=True)
    processed_at = fields.DateTime(allow_none=True)
    contact_id = fields.Integer(allow_none=True)


class InboxDetail(InboxOut):
    payload = fields.Dict()


InboxPage = page_of(InboxOut, "InboxPage")


def _operator() -> Actor:
    """Raw inbound messages show every customer: a manager with all carteras only."""
    actor = current_actor()
    require_all_carteras(actor)
    return actor


@bp.get("/inbox")
@bp.arguments(InboxArgs, location="query", as_kwargs=True)
@bp.response(200, InboxPage)
def list_inbox(
    status: str | None, provider: str | None, page: int, per_page: int
) -> Page[InboxMessage]:
    """Inbound messages, newest first, with their processing state."""
    return intake.list_inbox(
        db.session(),
        _operator(),
        status=status,
        provider=provider,
        page=page,
        per_page=per_page,
    )


@bp.get("/inbox/<bigid:inbox_id>")
@bp.response(200, InboxDetail)
def get_inbox(inbox_id: int) -> InboxMessage:
    """One inbound message with the payload as the platform sent it."""
    return intake.get_inbox(db.session(), _operator(), inbox_id)


class OutboxArgs(PagingArgs):
    status = fields.String(
        load_default=None, validate=validate.OneOf(("pending", "sending", "sent", "failed"))
    )


class OutboxOut(Schema):
    id = fields.Integer()
    conversation_id = fields.Integer(allow_none=True)
    rc_message_id = fields.String()
    channel = fields.String()
    provider = fields.String()
    recipient = fields.String()
    text = fields.String()
    agent_name = fields.String(allow_none=True)
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    # why it failed, stable: window_closed, media_type, media_too_large, media_unavailable,
    # media_refused, rejected, unavailable
    error_code = fields.String(allow_none=True)
    media = fields.Function(
        lambda row: (
            {
                "name": row.media_name,
                "content_type": row.media_type,
                "size": row.media_size,
                "sha256": row.media_sha256,
            }
            if row.media_ref
            else None
        )
    )
    template = fields.Function(
        lambda row: (
            {
                "name": row.template_name,
                "language": row.template_language,
                "parameters": row.template_params or [],
            }
            if row.template_name
            else None
        )
    )
    replaces_id = fields.Integer(allow_none=True)


OutboxPage = page_of(OutboxOut, "OutboxPage")


@bp.get("/outbox")
@bp.arguments(OutboxArgs, location="query", as_kwargs=True)
@bp.response(200, OutboxPage)
def list_outbox(status: str | None, page: int, per_page: int) -> Page[OutboundMessage]:
    """Agents' replies sent back to customers, newest first, with failures and their error."""
    return outbound.list_outbox(db.session(), current_actor(), status, page, per_page)


class TemplateIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=512))
    language = fields.String(required=True, validate=validate.Length(min=2, max=16))
    parameters = fields.List(
        fields.String(validate=validate.Length(max=1024)),
        load_default=list,
        validate=validate.Length(max=20),
    )


@bp.post("/outbox/<bigid:outbox_id>/template")
@bp.arguments(TemplateIn)
@bp.response(202, OutboxOut)
def send_template(data: dict[str, Any], outbox_id: int) -> OutboundMessage:
    """Send an approved WhatsApp template instead of a reply refused for the closed 24-hour
    window (error_code window_closed); the names come from CARTERAS_WHATSAPP_TEMPLATES. The
    template is a new outbox row (``replaces_id``), queued at once; the same request again
    returns the same row."""
    session = db.session()
    actor = current_actor()
    config = current_app.config["CARTERAS"]
    row = templates.send_template(
        session,
        actor,
        outbox_id,
        name=data["name"],
        language=data["language"],
        parameters=data["parameters"],
        approved=config.whatsapp_templates,
        now=current_app.extensions["ports"].clock.now(),
    )
    session.commit()
    if row.status == "pending":
        enqueue_replies([row.id])
    return row
