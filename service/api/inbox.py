"""What arrived through the webhooks: /api/inbox (admins and coordinators)."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api.auth import current_actor
from service.api.schemas import PagingArgs, page_of
from service.domain import intake, outbound
from service.domain.messages import PROVIDERS
from service.domain.pagination import Page
from service.extensions import db
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


@bp.get("/inbox")
@bp.arguments(InboxArgs, location="query", as_kwargs=True)
@bp.response(200, InboxPage)
def list_inbox(
    status: str | None, provider: str | None, page: int, per_page: int
) -> Page[InboxMessage]:
    """Inbound messages, newest first, with their processing state."""
    return intake.list_inbox(
        db.session(),
        current_actor(),
        status=status,
        provider=provider,
        page=page,
        per_page=per_page,
    )


@bp.get("/inbox/<bigid:inbox_id>")
@bp.response(200, InboxDetail)
def get_inbox(inbox_id: int) -> InboxMessage:
    """One inbound message with the payload as the platform sent it."""
    return intake.get_inbox(db.session(), current_actor(), inbox_id)


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


OutboxPage = page_of(OutboxOut, "OutboxPage")


@bp.get("/outbox")
@bp.arguments(OutboxArgs, location="query", as_kwargs=True)
@bp.response(200, OutboxPage)
def list_outbox(status: str | None, page: int, per_page: int) -> Page[OutboundMessage]:
    """Agents' replies sent back to customers, newest first, with failures and their error."""
    return outbound.list_outbox(db.session(), current_actor(), status, page, per_page)
