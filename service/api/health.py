"""Operations endpoints: liveness, readiness (database), and the API docs page's assets."""

from __future__ import annotations

import logging

import swagger_ui_bundle
from flask import Response, send_from_directory
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.api.schemas import HealthOut
from service.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__, description="Operations")


@bp.get("/healthz")
@bp.response(200, HealthOut)
@bp.doc(security=[])
def healthz() -> dict[str, object]:
    """The process is up."""
    return {"status": "ok", "checks": {}}


@bp.get("/readyz")
@bp.response(200, HealthOut)
@bp.alt_response(503, schema=HealthOut)
@bp.doc(security=[])
def readyz() -> tuple[dict[str, object], int]:
    """Ready to serve: the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("readiness: database unreachable")
        db.session.rollback()
        return {"status": "unavailable", "checks": {"database": "unreachable"}}, 503
    return {"status": "ready", "checks": {"database": "ok"}}, 200


@bp.route("/docs/assets/<path:filename>")
@bp.doc(hide=True)
def docs_assets(filename: str) -> Response:
    # Swagger UI served from the installed swagger-ui-bundle package, never from a CDN.
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)
