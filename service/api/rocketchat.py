"""Rocket.Chat administration: ``POST /api/rocketchat/sync`` (admins)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import BadGateway, ServiceUnavailable

from service.api.auth import current_actor
from service.domain import rc_sync
from service.domain.access import require_admin
from service.domain.ports import ChatPlatformError, ChatPlatformUnavailable
from service.extensions import db

bp = Blueprint("rocketchat", __name__, url_prefix="/api", description="Rocket.Chat set-up")


class SyncArgs(Schema):
    dry_run = fields.Boolean(load_default=False)


class SyncChange(Schema):
    type = fields.String()
    id = fields.Integer(allow_none=True)
    name = fields.String()
    changes = fields.Dict()


class SyncSkipped(Schema):
    type = fields.String()
    name = fields.String()
    department_id = fields.String()
    rocketchat_user_id = fields.String()
    reason = fields.String()


class SyncOut(Schema):
    dry_run = fields.Boolean()
    created = fields.List(fields.Nested(SyncChange))
    updated = fields.List(fields.Nested(SyncChange))
    deactivated = fields.List(fields.Nested(SyncChange))
    skipped = fields.List(fields.Nested(SyncSkipped))


@bp.post("/rocketchat/sync")
@bp.arguments(SyncArgs, location="query", as_kwargs=True)
@bp.response(200, SyncOut)
def sync(dry_run: bool) -> dict[str, Any]:
    """Teams from Rocket.Chat departments and agents from its livechat agents (created or
    updated, never deleted; agents gone from Rocket.Chat become inactive; every change
    audited). ``?dry_run=true`` answers what would change and changes nothing."""
    actor = current_actor()
    require_admin(actor)  # before any call to Rocket.Chat
    chat = current_app.extensions["ports"].chat
    try:
        report = rc_sync.sync(db.session(), actor, chat, dry_run=dry_run)
    except ChatPlatformUnavailable as exc:
        db.session.rollback()
        raise ServiceUnavailable(f"Rocket.Chat is unavailable: {exc}") from None
    except ChatPlatformError as exc:
        db.session.rollback()
        raise BadGateway(f"Rocket.Chat refused a call: {exc}") from None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report.as_dict()
