""" "Sincronizar con Rocket.Chat" on Equipos and Agentes (admins only, like POST
/api/rocketchat/sync): the dry run first ("se crearían N equipos..."), then the real run. A
Rocket.Chat that is not configured or refuses is a Spanish message, never a 500."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.wrappers import Response

from service.domain import rc_sync
from service.domain.errors import Invalid
from service.domain.ports import ChatPlatformError, ChatPlatformUnavailable
from service.extensions import db
from service.ui import bp
from service.ui.auth import me
from service.ui.formats import ngettext
from service.ui.org import TAKEN, checked_csrf, recheck_live

FIELD_LABELS = {
    "name": _l("nombre"),
    "rocketchat_department_id": _l("departamento"),
    "email": _l("correo"),
    "rocketchat_user_id": _l("id en Rocket.Chat"),
    "rocketchat_username": _l("usuario de Rocket.Chat"),
    "team_ids": _l("equipos"),
    "active": _l("estado"),
}


def _back() -> str:
    return "ui.agents" if request.form.get("volver") == "agentes" else "ui.teams"


def skipped_reason(reason: str) -> str:
    """Why the sync left a department or agent out (a Conflict of org's), in Spanish."""
    for field, text in TAKEN.items():
        if reason.endswith(f"this {field}."):
            return str(text)
    return str(_("No se pudo guardar."))


def _sync(dry_run: bool) -> rc_sync.SyncReport | None:
    """Run the sync as POST /api/rocketchat/sync does; a refusal is a Spanish message."""
    chat = current_app.extensions["ports"].chat
    try:
        report = rc_sync.sync(db.session(), me(), chat, dry_run=dry_run)
    except Invalid:
        db.session.rollback()
        flash(
            _(
                "Rocket.Chat no está configurado: pida a quien administra el servicio que defina "
                "ROCKETCHAT_URL, ROCKETCHAT_USER_ID y ROCKETCHAT_AUTH_TOKEN."
            ),
            "error",
        )
        return None
    except ChatPlatformUnavailable:
        db.session.rollback()
        flash(_("Rocket.Chat no responde; no se cambió nada. Inténtelo en unos minutos."), "error")
        return None
    except ChatPlatformError as exc:
        db.session.rollback()
        flash(
            _(
                "Rocket.Chat rechazó la consulta (%(code)s); no se cambió nada. Revise los "
                "permisos del usuario del servicio en Rocket.Chat.",
                code=exc.code or "error",
            ),
            "error",
        )
        return None
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report


def sync_summary(report: rc_sync.SyncReport) -> str:
    """ "Se crearían 2 equipos y 3 agentes; ..." (or, once applied, "Se crearon ...")."""
    created = [c["type"] for c in report.created]
    teams, agents = created.count("team"), created.count("agent")
    gone, changed = len(report.deactivated), len(report.updated)
    if report.dry_run:
        parts = [
            _(
                "Se crearían %(teams)s y %(agents)s",
                teams=ngettext("%(num)s equipo", "%(num)s equipos", teams),
                agents=ngettext("%(num)s agente", "%(num)s agentes", agents),
            ),
            ngettext("%(num)s cambiaría", "%(num)s cambiarían", changed),
            ngettext(
                "%(num)s agente quedaría inactivo", "%(num)s agentes quedarían inactivos", gone
            ),
        ]
    else:
        parts = [
            _(
                "Se crearon %(teams)s y %(agents)s",
                teams=ngettext("%(num)s equipo", "%(num)s equipos", teams),
                agents=ngettext("%(num)s agente", "%(num)s agentes", agents),
            ),
            ngettext("%(num)s cambió", "%(num)s cambiaron", changed),
            ngettext("%(num)s agente quedó inactivo", "%(num)s agentes quedaron inactivos", gone),
        ]
    return "; ".join(parts) + "."


def _admins_only() -> None:
    if not me().is_admin:
        abort(403, _("Solo los administradores sincronizan con Rocket.Chat."))


@bp.post("/rocketchat/sincronizar")
@login_required
def rocketchat_sync() -> str | Response:
    _admins_only()
    checked_csrf()
    report = _sync(dry_run=True)
    if report is None:
        return redirect(url_for(_back()))
    return render_template(
        "teams/sync.html",
        report=report,
        summary=sync_summary(report),
        labels=FIELD_LABELS,
        reason=skipped_reason,
        back=_back(),
        volver=request.form.get("volver", ""),
    )


@bp.post("/rocketchat/sincronizar/aplicar")
@login_required
def rocketchat_sync_apply() -> Response:
    _admins_only()
    checked_csrf()
    report = _sync(dry_run=False)
    if report is not None:
        recheck_live()
        flash(_("Sincronizado con Rocket.Chat. %(summary)s", summary=sync_summary(report)))
    return redirect(url_for(_back()))
