"""AUDITORÍA (the audit with its three filters) and the agent's live page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import abort, current_app, render_template, request, send_from_directory
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from service.domain import audit, conversations, ordering
from service.domain.errors import Invalid
from service.extensions import db
from service.ui import bp
from service.ui.auth import me
from service.ui.carteras import managers_only, page_number

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


@bp.get("/auditoria", endpoint="audit")
@login_required
def audit_page() -> str:
    managers_only()
    q = request.args.get("q", "").strip()
    event = request.args.get("event") or None
    period = request.args.get("period") or None
    query = audit.AuditQuery(
        q=q or None,
        event=event if event in EVENT_LABELS else None,
        period=period if period in PERIOD_LABELS else None,
    )
    try:
        found = audit.search(
            db.session(),
            me(),
            query,
            now=datetime.now(UTC),
            tz=current_app.config["CARTERAS"].tz,
            page=page_number(),
            per_page=25,
        )
    except Invalid:
        abort(400)
    return render_template(
        "audit.html",
        page=found,
        q=q,
        event=event,
        period=period,
        events=EVENT_LABELS,
        periods=PERIOD_LABELS,
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
    )


@bp.get("/ui/vendor/socket.io.min.js")
def socketio_client() -> Response:
    # The Socket.IO client installed from the npm registry (package.json), never a CDN.
    return send_from_directory(
        VENDOR / "socket.io-client" / "dist", "socket.io.min.js", max_age=86400
    )
