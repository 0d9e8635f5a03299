"""The audit log endpoints: /api/audit and its CSV export (admins and coordinators)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from flask import Response, current_app, stream_with_context
from flask_smorest import Blueprint

from service.api.auth import current_actor
from service.api.schemas import AuditArgs, AuditPage
from service.domain import audit, audit_text
from service.domain.pagination import Page
from service.extensions import db
from service.models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/api", description="Audit log")


class _Described:
    """An event with its ``summary`` and ``names``, for AuditOut."""

    def __init__(self, event: AuditEvent, text: audit_text.Readable) -> None:
        self._event, self.summary, self.names = event, text.summary, text.names

    def __getattr__(self, name: str) -> Any:
        return getattr(self._event, name)


def _query(filters: dict[str, Any]) -> audit.AuditQuery:
    from_: date | None = filters.get("from_")
    return audit.AuditQuery(
        q=filters.get("q"),
        event=filters.get("event"),
        resource_type=filters.get("resource_type"),
        resource_id=filters.get("resource_id"),
        period=filters.get("period"),
        date_from=from_,
        date_to=filters.get("to"),
    )


@bp.get("/audit")
@bp.arguments(AuditArgs, location="query", as_kwargs=True)
@bp.response(200, AuditPage)
def list_events(page: int, per_page: int, **filters: Any) -> Page[_Described]:
    """Search the audit log, newest first. ``period`` (today, week, month, year) and
    ``from``/``to`` dates are read in the service's time zone (``CARTERAS_TIMEZONE``).
    Each event also comes as a Spanish sentence (``summary``) with the names it resolved.
    The count stops at 10 000 events (or at the end of the page asked for, if further):
    then ``total_exact`` is false and ``total`` means "more than ``total``"."""
    config = current_app.config["CARTERAS"]
    session = db.session()
    found = audit.search(
        session,
        current_actor(),
        _query(filters),
        now=current_app.extensions["ports"].clock.now(),
        tz=config.tz,
        page=page,
        per_page=per_page,
    )
    texts, _names = audit.describe_all(session, found.items)
    return Page(
        items=[_Described(e, t) for e, t in zip(found.items, texts, strict=True)],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        total_exact=found.total_exact,
    )


@bp.get("/audit/export")
@bp.arguments(AuditArgs, location="query", as_kwargs=True)
@bp.response(200, {"type": "string"}, content_type="text/csv")
def export_events(page: int, per_page: int, **filters: Any) -> Response:
    """Every event the same filters find (paging ignored), as CSV (UTF-8 with a BOM): local
    date, user, event, resource, summary and changes, in Spanish; spreadsheet-safe cells."""
    config = current_app.config["CARTERAS"]
    export = audit.export_csv(
        current_actor(),
        _query(filters),
        now=current_app.extensions["ports"].clock.now(),
        tz=config.tz,
    )

    def generate() -> Iterator[str]:
        # the streaming context's own session, closed at its end (not the view's)
        yield from export.chunks(db.session())

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=auditoria.csv"},
    )
