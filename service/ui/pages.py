"""AUDITORÍA (the audit in words, its filters and CSV export) and the agent's live page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from service.domain import audit, audit_text, conversations, ordering
from service.domain.errors import Invalid
from service.domain.pagination import Page
from service.extensions import db
from service.models import AuditEvent
from service.ui import bp, formats
from service.ui.auth import me
from service.ui.carteras import managers_only, page_number, render_list

EVENT_LABELS = {
    "created": _l("Creado"),
    "updated": _l("Actualizado"),
    "deleted": _l("Eliminado"),
    "activated": _l("Activado"),
    "deactivated": _l("Desactivado"),
    "contact_added": _l("Contacto agregado"),
    "contact_removed": _l("Contacto quitado"),
    "contact_moved": _l("Contacto movido"),
    "imported": _l("Importación"),
    "handover": _l("Traspaso"),
}
TYPE_LABELS = {
    "cartera": _l("Cartera"),
    "contact": _l("Contacto"),
    "team": _l("Equipo"),
    "agent": _l("Agente"),
    "region": _l("Región"),
    "user": _l("Usuario"),
    "token": _l("Token"),
    "inbox": _l("Mensaje recibido"),
    "outbox": _l("Mensaje enviado"),
}
PERIOD_LABELS = {
    "today": _l("Hoy"),
    "week": _l("Esta semana"),
    "month": _l("Este mes"),
    "year": _l("Este año"),
}
REASON_LABELS = {
    "owner_agent": _l("Dueño de la cartera"),
    "owner_offline_team": _l("Dueño no disponible: equipo"),
    "owner_busy_team": _l("Dueño ocupado: equipo"),
    "outside_hours_team": _l("Fuera de horario: equipo"),
    "team_only_cartera": _l("Cartera compartida: equipo"),
    "owner_timeout_team": _l("Dueño no respondió a tiempo: equipo"),
    "owner_unavailable_team": _l("Rocket.Chat rechazó al dueño: equipo"),
    "no_cartera": _l("Sin cartera: cola general"),
    "cartera_inactive": _l("Cartera inactiva: cola general"),
    "team_without_department": _l("Equipo sin departamento: cola general"),
    "owner_unavailable_queue": _l("Sin equipo: cola general"),
}
VENDOR = Path(__file__).resolve().parents[2] / "node_modules"


@bp.app_template_filter("reason")
def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


@bp.app_template_filter("event")
def event_label(code: str) -> str:
    return str(EVENT_LABELS.get(code, code))


PER_PAGE = 25


@dataclass
class AuditFilters:
    """The page's filters as typed (shown again in the form) and as the domain query."""

    args: dict[str, str]
    query: audit.AuditQuery
    errors: dict[str, str] = field(default_factory=dict)


def _date(args: dict[str, str], key: str, errors: dict[str, str]) -> date | None:
    text = args[key]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[key] = _("Escriba una fecha como 2026-01-31.")
        return None


def audit_filters() -> AuditFilters:
    """``q``, ``event``, ``resource_type``, ``period`` and the ``from``/``to`` dates of the
    query string; an unknown choice is ignored, a bad date is said next to its field."""
    args = {
        key: request.args.get(key, "").strip()
        for key in ("q", "event", "resource_type", "period", "from", "to")
    }
    for key, known in (("event", EVENT_LABELS), ("resource_type", TYPE_LABELS)):
        if args[key] not in known:
            args[key] = ""
    if args["period"] not in PERIOD_LABELS:
        args["period"] = ""
    errors: dict[str, str] = {}
    start, end = _date(args, "from", errors), _date(args, "to", errors)
    if start and end and end < start:
        errors["to"] = _("«Hasta» no puede ser anterior a «Desde».")
    query = audit.AuditQuery(
        q=args["q"] or None,
        event=args["event"] or None,
        resource_type=args["resource_type"] or None,
        period=args["period"] or None,
        date_from=start,
        date_to=end,
    )
    return AuditFilters(args=args, query=query, errors=errors)


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    text: audit_text.Readable
    local: str
    ago: str | None
    resource: str
    actor_url: str | None
    resource_url: str | None
    contact_url: str | None


def _rows(events: list[AuditEvent], now: datetime, tz: ZoneInfo) -> list[AuditRow]:
    """Each event in words, in local time, with links to the pages that exist: the cartera's
    edit page, the contact's ficha, the user's page (for admins)."""
    said = formats.words()
    texts, names = audit.describe_all(db.session(), events, said)
    admin = current_user.role == "admin"

    def link(kind: str, row_id: int | None) -> str | None:
        if row_id is None or names.get(kind, row_id) is None:
            return None  # gone since
        if kind == "cartera":
            return url_for("ui.cartera_edit", cartera_id=row_id)
        if kind == "contact":
            return url_for("ui.contact_detail", contact_id=row_id)
        if kind == "user" and admin:
            return url_for("ui.user_edit", user_id=row_id)
        return None

    return [
        AuditRow(
            event=event,
            text=text,
            local=audit_text.local_time(event.occurred_at, tz),
            ago=audit_text.ago(event.occurred_at, now, said),
            resource=audit_text.resource_text(event, names, said),
            actor_url=link("user", event.actor_user_id),
            resource_url=link(event.resource_type, event.resource_id),
            contact_url=link("contact", event.related_id),
        )
        for event, text in zip(events, texts, strict=True)
    ]


@bp.get("/auditoria", endpoint="audit")
@login_required
def audit_page() -> str:
    """AUDITORÍA: each event as a sentence with its changes, in local time, filtered by text,
    event, resource type, a preset period or a date range; paged with the total."""
    managers_only()
    return render_template("audit.html", **_audit("ui.audit"))


@bp.get("/carteras/auditoria", endpoint="carteras_audit")
@login_required
def carteras_audit() -> str:
    """The same AUDITORÍA as a window over the Carteras list (the list's AUDITORÍA button,
    as in the manual); its filters and pages stay at this address."""
    managers_only()
    return render_list(
        {}, "audit_body.html", window_title=_("Auditoría"), wide=True, **_audit("ui.carteras_audit")
    )


def _audit(endpoint: str) -> dict[str, Any]:
    """What the audit shows for the query string's filters and page (audit_body.html)."""
    chosen = audit_filters()
    tz = current_app.config["CARTERAS"].tz
    now = current_app.extensions["ports"].clock.now()  # the service's one clock
    found: Page[AuditEvent] = Page(items=[], total=0, page=1, per_page=PER_PAGE)
    if not chosen.errors:
        try:
            found = audit.search(
                db.session(),
                me(),
                chosen.query,
                now=now,
                tz=tz,
                page=page_number(),
                per_page=PER_PAGE,
            )
        except Invalid:
            abort(400)
    return {
        "events_page": found,  # not "page": over the Carteras list, that is the list's
        "rows": _rows(found.items, now, tz),
        "filters": chosen.args,
        "errors": chosen.errors,
        "zone": tz.key,
        "events": EVENT_LABELS,
        "periods": PERIOD_LABELS,
        "types": TYPE_LABELS,
        "audit_endpoint": endpoint,
    }


@bp.get("/auditoria/exportar", endpoint="audit_export")
@login_required
def audit_export() -> Response:
    """The events the page's filters find, all pages, as CSV with a BOM (Spanish columns)."""
    managers_only()
    chosen = audit_filters()
    if chosen.errors:
        abort(400, next(iter(chosen.errors.values())))
    try:
        export = audit.export_csv(
            me(),
            chosen.query,
            now=current_app.extensions["ports"].clock.now(),
            tz=current_app.config["CARTERAS"].tz,
            words=formats.words(),
        )
    except Invalid:
        abort(400)

    def generate() -> Iterator[str]:
        # the streaming context's own session, closed at its end (not the view's)
        yield from export.chunks(db.session())

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=auditoria.csv"},
    )


@bp.get("/agente", endpoint="agent_page")
@login_required
def agent_page() -> str:
    found = conversations.list_conversations(
        db.session(),
        me(),
        conversations.ConversationFilters(status="open"),
        tz=current_app.config["CARTERAS"].tz,
        page=1,
        per_page=50,
    )
    held = ordering.held_messages(
        db.session(), [(c.channel, c.thread_key) for c in found.items if c.thread_key]
    )
    return render_template(
        "agent.html",
        page=found,
        held=held,
        is_agent=current_user.role == "agent",
        reasons={k: str(v) for k, v in REASON_LABELS.items()},
        channels={k: str(v) for k, v in formats.CHANNEL_LABELS.items()},
    )


@bp.get("/ui/vendor/socket.io.min.js")
def socketio_client() -> Response:
    # The Socket.IO client installed from the npm registry (package.json), never a CDN.
    return send_from_directory(
        VENDOR / "socket.io-client" / "dist", "socket.io.min.js", max_age=86400
    )
