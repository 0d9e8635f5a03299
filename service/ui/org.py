"""Pages of Equipos (issue 13): managers with every cartera list, search, create, edit and
delete teams; everyone else gets 403. Also what Equipos and Agentes share (access, the
domain's English errors put in Spanish next to the field) and the owner's wait in words for
the cartera form.

The views call the same domain use cases as /api/teams and /api/agents (``org``), so the rules
and audit events are the same. Agentes and the handover wizard are in ``ui/agents.py``;
"Sincronizar con Rocket.Chat" in ``ui/rocketchat.py``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from service.domain import carteras, org
from service.domain.errors import Conflict, DomainError, Invalid, NotFound
from service.domain.pagination import MAX_PER_PAGE
from service.extensions import db
from service.models import Agent, Cartera, Team, agent_teams
from service.ui import bp
from service.ui.auth import me
from service.ui.carteras import PER_PAGE, managers_only, page_number
from service.ui.formats import ngettext
from service.ui.forms import ActionForm, TeamForm

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# A value another record already holds (the domain's Conflict names the field).
TAKEN = {
    "name": _l("Ya existe un equipo con ese nombre."),
    "rocketchat_department_id": _l("Otro equipo ya usa ese departamento de Rocket.Chat."),
    "email": _l("Ya existe un agente con ese correo."),
    "rocketchat_user_id": _l("Otro agente ya tiene ese id de usuario de Rocket.Chat."),
    "rocketchat_username": _l("Otro agente ya tiene ese usuario de Rocket.Chat."),
}


def all_carteras_only() -> None:
    managers_only()
    if not me().manages_all:
        abort(403, _("Gestionar equipos y agentes requiere acceso a todas las carteras."))


def checked_csrf() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))


def recheck_live() -> None:
    """Access changed (an agent deactivated or moved): end at once the live connections that
    lost it, as the API does."""
    live = current_app.extensions.get("live_connections")
    if live is not None:
        live.recheck()


def team_or_404(team_id: int) -> Team:
    try:
        return org.get_team(db.session(), team_id)
    except NotFound:
        abort(404, _("Ese equipo no existe."))


def agent_or_404(agent_id: int) -> Agent:
    try:
        return org.get_agent(db.session(), agent_id)
    except NotFound:
        abort(404, _("Ese agente no existe."))


def carteras_of(*, team_id: int | None = None, agent_id: int | None = None) -> list[Cartera]:
    """The carteras of a team or an agent (the first 200), to link to them."""
    found = carteras.list_carteras(
        db.session(),
        me(),
        carteras.CarteraFilters(team_id=team_id, agent_id=agent_id),
        1,
        MAX_PER_PAGE,
    )
    return [cartera for cartera, _count in found.items]


def typed(name: str, limit: int = 200) -> str:
    """A query argument as typed text: no control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", request.args.get(name, "")).strip()[:limit]


def _field_error(field: str, message: str, names: str = "") -> str:
    """The domain's English field errors (org._apply_team/_apply_agent/update_agent)."""
    text: str
    if field == "name":
        empty = "empty" in message
        text = _("Escriba un nombre.") if empty else _("Use como máximo 120 caracteres.")
    elif field == "email":
        text = _("Escriba un correo electrónico válido, como nombre@empresa.com.")
    elif field == "team_ids" and message.startswith("would leave"):
        text = _(
            "Es dueño de carteras de un equipo que dejaría (%(names)s): traspáselas antes o "
            "déjelo en ese equipo.",
            names=names,
        )
    elif field == "team_ids":
        text = _("Alguno de los equipos elegidos ya no existe; recargue la página.")
    else:
        text = _("Revise este dato.")
    return text


def place(form: Any, error: DomainError, names: str = "") -> None:
    """Put a domain error, in Spanish, next to its field (or in a flash if it has none)."""
    if isinstance(error, Conflict) and (field := error.details.get("field")) in TAKEN:
        target = getattr(form, field, None)
        if target is not None:
            target.errors = [*target.errors, str(TAKEN[field])]
            return
    placed = False
    fields = (error.details.get("fields") or {}) if isinstance(error, Invalid) else {}
    for name, messages in fields.items():
        target = getattr(form, name, None)
        if target is not None:
            target.errors = [*target.errors, *(_field_error(name, m, names) for m in messages)]
            placed = True
    if not placed:
        flash(_("No se pudo guardar; revise los datos."), "error")


# --- Equipos --------------------------------------------------------------------------------


def _team_counts(team_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Agents and carteras per team, for the rows of one page (two grouped reads)."""
    if not team_ids:
        return {}, {}
    session = db.session()
    agents = session.execute(
        select(agent_teams.c.team_id, func.count())
        .where(agent_teams.c.team_id.in_(team_ids))
        .group_by(agent_teams.c.team_id)
    )
    owned = session.execute(
        select(Cartera.team_id, func.count())
        .where(Cartera.team_id.in_(team_ids))
        .group_by(Cartera.team_id)
    )
    return {t: n for t, n in agents}, {t: n for t, n in owned if t is not None}


@bp.get("/equipos", endpoint="teams")
@login_required
def teams_list() -> str:
    all_carteras_only()
    q = typed("q")
    found = org.list_teams(db.session(), q or None, page_number(), PER_PAGE)
    agents, owned = _team_counts([t.id for t in found.items])
    return render_template(
        "teams/list.html", page=found, q=q, agents=agents, owned=owned, action=ActionForm()
    )


def _save_team(form: TeamForm, team: Team | None) -> str | Response:
    data = {
        "name": form.name.data or "",
        "rocketchat_department_id": form.rocketchat_department_id.data or None,
    }
    try:
        if team is None:
            saved = org.create_team(db.session(), me(), data)
        else:
            saved = org.update_team(db.session(), me(), team.id, data)
        db.session.commit()
    except (Invalid, Conflict) as error:
        db.session.rollback()
        place(form, error)
        return _team_page(form, team)
    flash(_("Equipo %(name)s guardado.", name=saved.name))
    return redirect(url_for("ui.teams"))


def _team_page(form: TeamForm, team: Team | None) -> str:
    owned = carteras_of(team_id=team.id) if team else []
    return render_template("teams/form.html", form=form, team=team, owned=owned)


@bp.route("/equipos/nuevo", methods=["GET", "POST"])
@login_required
def team_new() -> str | Response:
    all_carteras_only()
    form = TeamForm()
    if form.validate_on_submit():
        return _save_team(form, None)
    return _team_page(form, None)


@bp.route("/equipos/<id:team_id>/editar", methods=["GET", "POST"])
@login_required
def team_edit(team_id: int) -> str | Response:
    all_carteras_only()
    team = team_or_404(team_id)
    form = TeamForm(obj=team)
    if form.validate_on_submit():
        return _save_team(form, team)
    return _team_page(form, team)


@bp.post("/equipos/<id:team_id>/eliminar")
@login_required
def team_delete(team_id: int) -> Response:
    all_carteras_only()
    checked_csrf()
    team = team_or_404(team_id)
    name = team.name
    try:
        org.delete_team(db.session(), me(), team_id)
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        count = len(error.details.get("cartera_ids") or [])
        flash(
            ngettext(
                "No se puede eliminar el equipo %(name)s: tiene %(num)s cartera. Pásela a otro "
                "equipo (abajo) antes de eliminarlo.",
                "No se puede eliminar el equipo %(name)s: tiene %(num)s carteras. Páselas a otro "
                "equipo (abajo) antes de eliminarlo.",
                count,
                name=name,
            ),
            "error",
        )
        return redirect(url_for("ui.team_edit", team_id=team_id))
    flash(_("Equipo %(name)s eliminado.", name=name))
    return redirect(url_for("ui.teams"))


# --- the owner's wait in plain words (NUEVA CARTERA / Editar cartera) ------------------------


def _unit(kind: int, count: int) -> str:
    """``count`` hours (0), minutes (1) or seconds (2), in words."""
    text: str
    if kind == 0:
        text = ngettext("%(num)s hora", "%(num)s horas", count)
    elif kind == 1:
        text = ngettext("%(num)s minuto", "%(num)s minutos", count)
    else:
        text = ngettext("%(num)s segundo", "%(num)s segundos", count)
    return text


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    shown = [_unit(kind, n) for kind, n in enumerate((hours, *divmod(rest, 60))) if n]
    if len(shown) == 1:
        return shown[0]
    joined: str = _("%(first)s y %(last)s", first=", ".join(shown[:-1]), last=shown[-1])
    return joined


@bp.app_template_global()
def owner_wait_words(seconds: object) -> str:
    """``30`` -> "30 segundos: si el dueño no responde en 30 segundos, la conversación pasa
    al equipo"; ``0`` -> no wait (the conversation stays with the owner)."""
    try:
        value = int(str(seconds))
    except ValueError:
        return ""
    text: str = ""
    if value <= 0:
        text = _(
            "Sin límite de espera: la conversación se queda con el dueño hasta que la atienda."
        )
    elif value <= 86400:
        text = _(
            "%(time)s: si el dueño no responde en %(time)s, la conversación pasa al equipo.",
            time=_duration(value),
        )
    return text


@bp.app_template_global()
def owner_wait_texts() -> dict[str, Any]:
    """The same words for static/app.js, which rewrites them as the number changes."""
    return {
        "none": owner_wait_words(0),
        "sentence": _(
            "%(time)s: si el dueño no responde en %(time)s, la conversación pasa al equipo.",
            time="{time}",
        ),
        "units": [[_unit(kind, n).replace(str(n), "{n}", 1) for n in (1, 2)] for kind in range(3)],
        "last": _("%(first)s y %(last)s", first="{first}", last="{last}"),
    }
