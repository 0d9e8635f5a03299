"""Rocket.Chat's External Service routing: ``GET /routing/rocketchat`` answers which agent
should take a chat, so owner routing happens before the chat waits in a queue.

Rocket.Chat sends ``X-RocketChat-Secret-Token`` (Livechat_External_Queue_Token) and up to ten
identical requests at once: the answer is read-only and cheap.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import ServiceUnavailable, Unauthorized

from service.domain.conversations import external_choice
from service.extensions import db
from service.models.types import utcnow

bp = Blueprint("routing", __name__, description="Rocket.Chat External Service routing")


class ExternalArgs(Schema):
    departmentId = fields.String(load_default=None)  # noqa: N815 (Rocket.Chat's names)
    ignoreAgentId = fields.String(load_default=None)  # noqa: N815


class ExternalAnswer(Schema):
    _id = fields.String(data_key="_id", attribute="id")
    username = fields.String()


@bp.get("/routing/rocketchat")
@bp.arguments(ExternalArgs, location="query", as_kwargs=True)
@bp.response(200, ExternalAnswer)
@bp.doc(security=[])
def external_service(departmentId: str | None, ignoreAgentId: str | None) -> dict[str, Any]:  # noqa: N803
    """The agent Rocket.Chat should give the chat to: ``{"_id", "username"}``, or ``{}`` when
    there is nobody available to name (Rocket.Chat then refuses the room with
    ``no-agent-online``: routing/External.ts)."""
    secret = current_app.config["CARTERAS"].rocketchat_routing_token
    if not secret:
        raise ServiceUnavailable("ROCKETCHAT_ROUTING_TOKEN is not configured.")
    given = request.headers.get("X-RocketChat-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("X-RocketChat-Secret-Token is missing or wrong.")
    config = current_app.config["CARTERAS"]
    choice = external_choice(
        db.session(),
        departmentId,
        ignoreAgentId,
        utcnow(),
        presence_age=timedelta(seconds=3 * config.presence_interval),
    )
    db.session.rollback()
    return {"id": choice[0], "username": choice[1]} if choice else {}
