"""Operations endpoints: liveness, readiness (database; with ``deep=1`` the Rocket.Chat
set-up), and the API docs page's assets."""

from __future__ import annotations

import logging

import swagger_ui_bundle
from flask import Response, current_app, request, send_from_directory
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.api.schemas import HealthOut
from service.domain import rc_setup, tokens
from service.domain.access import require_admin
from service.domain.errors import Unauthenticated
from service.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__, description="Operations")


@bp.get("/healthz")
@bp.response(200, HealthOut)
@bp.doc(security=[])
def healthz() -> dict[str, object]:
    """The process is up."""
    return {"status": "ok", "checks": {}}


class ReadyArgs(Schema):
    deep = fields.Boolean(load_default=False)


def _require_admin_token() -> None:
    """``deep=1`` reads Rocket.Chat's set-up: only for an admin's bearer token.

    :raise Unauthenticated: no valid token. :raise Forbidden: not an admin.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    actor = tokens.authenticate(db.session(), token.strip()) if scheme.lower() == "bearer" else None
    if actor is None:
        raise Unauthenticated("readyz?deep=1 needs 'Authorization: Bearer <admin token>'.")
    require_admin(actor)


@bp.get("/readyz")
@bp.arguments(ReadyArgs, location="query", as_kwargs=True)
@bp.response(200, HealthOut)
@bp.alt_response(503, schema=HealthOut)
@bp.doc(security=[])
def readyz(deep: bool) -> tuple[dict[str, object], int]:
    """Ready to serve: the database answers. ``?deep=1`` (admin token) also runs the
    Rocket.Chat set-up check (``flask rocketchat check``), read-only; a failed check is a
    503."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("readiness: database unreachable")
        db.session.rollback()
        return {"status": "unavailable", "checks": {"database": "unreachable"}}, 503
    if not deep:
        return {"status": "ready", "checks": {"database": "ok"}}, 200
    _require_admin_token()
    found = rc_setup.check(
        db.session(),
        current_app.extensions["ports"].chat,
        rc_setup.Expected.from_config(current_app.config["CARTERAS"]),
    )
    db.session.rollback()
    failed = rc_setup.failed(found)
    worst = (
        rc_setup.FAIL
        if failed
        else max((c.status for c in found), key=rc_setup.STATUSES.index, default=rc_setup.OK)
    )
    checks = {
        "database": "ok",
        "rocketchat": {"status": worst, "checks": [c.as_dict() for c in found]},
    }
    return {"status": "unavailable" if failed else "ready", "checks": checks}, (
        503 if failed else 200
    )


@bp.route("/docs/assets/<path:filename>")
@bp.doc(hide=True)
def docs_assets(filename: str) -> Response:
    # Swagger UI served from the installed swagger-ui-bundle package, never from a CDN.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
