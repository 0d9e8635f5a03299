"""The audit log endpoint: /api/audit (admins and coordinators)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import current_app
from flask_smorest import Blueprint

from service.api.auth import current_actor
from service.api.schemas import AuditArgs, AuditPage
from service.domain import audit
from service.domain.pagination import Page
from service.extensions import db
from service.models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/api", description="Audit log")


@bp.get("/audit")
@bp.arguments(AuditArgs, location="query", as_kwargs=True)
@bp.response(200, AuditPage)
def list_events(
    q: str | None,
    event: str | None,
    resource_type: str | None,
    resource_id: int | None,
    period: str | None,
    from_: date | None,
    to: date | None,
    page: int,
    per_page: int,
) -> Page[AuditEvent]:
    """Search the audit log, newest first. ``period`` (today, week, month, year) and
    ``from``/``to`` dates are read in the service's time zone (``CARTERAS_TIMEZONE``)."""
    config = current_app.config["CARTERAS"]
    query = audit.AuditQuery(
        q=q,
        event=event,
        resource_type=resource_type,
        resource_id=resource_id,
        period=period,
        date_from=from_,
        date_to=to,
    )
    return audit.search(
        db.session(),
        current_actor(),
        query,
        now=datetime.now(UTC),
        tz=config.tz,
        page=page,
        per_page=per_page,
    )
