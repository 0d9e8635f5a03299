"""Pages of the Carteras module: the list, with NUEVA CARTERA and Editar as windows over it
(each at its own address), activate/deactivate, manage contacts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from service.domain import carteras, org, regions
from service.domain.errors import Conflict, Invalid
from service.domain.pagination import MAX_PAGE
from service.extensions import db
from service.models import Region
from service.ui import bp, messages
from service.ui.auth import me
from service.ui.forms import ICONS, ActionForm, CarteraForm

PER_PAGE = 25


def managers_only() -> None:
    if not current_user.is_manager:
        abort(403, _("Solo coordinadores y administradores gestionan carteras."))


def page_number(value: str | None = None) -> int:
    """``?page=`` (or *value*): ASCII digits only (``str.isdigit`` also takes "²" and "١٢"),
    at most the last page the domain pages to; anything else is the first page."""
    value = request.args.get("page", "1") if value is None else value
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_PAGE)):
        return 1
    return min(max(int(value), 1), MAX_PAGE)


def apply_errors(form: Any, error: Invalid) -> None:
    """Put the domain's field errors next to the fields of the form, in words (the rule
    each one breaks, service/ui/messages.py), never the API's English."""
    fields = messages.field_messages(error) or {
        name: [messages.explain(error)] for name in (error.details.get("fields") or {})
    }
    placed = False
    for name, texts in fields.items():
        field = getattr(form, name.split("[")[0], None)
        if field is not None:
            field.errors = [*field.errors, *texts]
            placed = True
    if not placed:
        flash(messages.explain(error), "error")


LIST_ARGS = ("q", "region_id", "page")


def list_args() -> dict[str, Any]:
    """The list's own query (search, region, page), kept by the windows opened over it so
    that closing one goes back to the list as it was."""
    return {key: value for key in LIST_ARGS if (value := request.args.get(key, "").strip())}


@bp.get("/carteras", endpoint="carteras")
@login_required
def carteras_list() -> str:
    managers_only()
    return render_list(list_args())


def render_list(args: Mapping[str, Any], window: str | None = None, **context: Any) -> str:
    """The Carteras list filtered by *args*; with *window* (a template) open over it: the
    NUEVA CARTERA, Editar or AUDITORÍA window, whose own values come in *context*."""
    q = str(args.get("q", ""))
    session = db.session()
    all_regions = regions.all_regions(session)
    region_id = chosen_region(all_regions, str(args.get("region_id", "")))
    found = carteras.list_carteras(
        session,
        me(),
        carteras.CarteraFilters(q=q or None, region_id=region_id),
        page_number(str(args.get("page", "1"))),
        PER_PAGE,
    )
    return render_template(
        "carteras/list.html",
        page=found,
        q=q,
        region_id=region_id,
        regions=region_choices(all_regions),
        action=ActionForm(),
        keep=dict(args),
        window=window,
        close_url=url_for("ui.carteras", **args),
        **context,
    )


def chosen_region(all_regions: list[Region], value: str | None = None) -> int | None:
    """``?region_id=`` (or *value*): one of the regions, else no filter."""
    value = request.args.get("region_id", "") if value is None else value
    if value.isascii() and value.isdigit() and int(value) in {r.id for r in all_regions}:
        return int(value)
    return None


def region_choices(all_regions: list[Region]) -> list[tuple[int, str]]:
    """Regions for a select, each macroregion followed by its regions (indented)."""
    children: dict[int | None, list[Region]] = {}
    for region in all_regions:
        children.setdefault(region.parent_id, []).append(region)
    choices: list[tuple[int, str]] = []
    for top in children.get(None, []):
        choices.append((top.id, top.name))
        choices.extend((r.id, f"\u00a0\u00a0{r.name}") for r in children.get(top.id, []))
    return choices


def _choices(form: CarteraForm) -> None:
    """Fill the selects. Each agent option names its teams (``data-teams``) so static/app.js
    lists only the chosen team's agents; without JavaScript all are listed, and choosing one
    outside the team is refused next to the field (before the domain refuses it in English)."""
    from wtforms.fields.choices import SelectChoice
    from wtforms.validators import ValidationError

    session = db.session()
    teams = org.list_teams(session, None, 1, 200).items
    agents = org.list_agents(session, None, None, True, 1, 200).items
    member_of: dict[int, list[int]] = {a.id: [] for a in agents}
    for team in teams:
        for member in team.agents:
            if member.id in member_of:
                member_of[member.id].append(team.id)
    form.team_id.choices = [(None, _("— Sin equipo —"))] + [(t.id, t.name) for t in teams]
    form.agent_id.choices = [(None, _("— Sin agente (cartera compartida) —"))] + [
        SelectChoice(a.id, a.name, render_kw={"data-teams": " ".join(map(str, member_of[a.id]))})
        for a in agents
    ]

    def in_the_team(_form: CarteraForm, field: Any) -> None:
        team_id = form.team_id.data
        if team_id is None or field.data not in member_of:
            return  # no team, no agent, or one not listed: the domain decides
        if team_id not in member_of[field.data]:
            raise ValidationError(
                _("Ese agente no está en el equipo elegido: elija uno del equipo u otro equipo.")
            )

    form.agent_id.validators = [*form.agent_id.validators, in_the_team]
    form.region_id.choices = [
        (None, _("— Sin región —")),
        *region_choices(regions.all_regions(session)),
    ]


def _save(form: CarteraForm, cartera_id: int | None) -> str | Response:
    data = {
        "name": form.name.data,
        "icon": form.icon.data,
        "color": form.color.data or None,
        "region_id": form.region_id.data,
        "description": form.description.data or None,
        "team_id": form.team_id.data,
        "agent_id": form.agent_id.data,
        "owner_timeout_seconds": form.owner_timeout_seconds.data or 0,
    }
    try:
        if cartera_id is None:
            carteras.create_cartera(db.session(), me(), data)
        else:
            carteras.update_cartera(db.session(), me(), cartera_id, data)
        db.session.commit()
    except Invalid as error:
        db.session.rollback()
        apply_errors(form, error)
        return form_window(form, cartera_id)
    except Conflict as error:
        db.session.rollback()
        form.name.errors.append(messages.explain(error))
        return form_window(form, cartera_id)
    flash(_("Cartera guardada."))
    return redirect(url_for("ui.carteras", **list_args()))


def form_window(form: CarteraForm, cartera_id: int | None) -> str:
    """The list with the NUEVA CARTERA (or Editar) window open over it, errors included."""
    return render_list(
        list_args(),
        "carteras/form.html",
        window_title=_("Editar cartera") if cartera_id else _("Nueva cartera"),
        form=form,
        icons=ICONS,
        cartera_id=cartera_id,
    )


@bp.route("/carteras/nueva", methods=["GET", "POST"])
@login_required
def cartera_new() -> str | Response:
    managers_only()
    if not me().manages_all:  # a supervisor limited to some carteras creates none
        abort(403, _("Crear carteras requiere acceso a todas las carteras."))
    form = CarteraForm()
    _choices(form)
    if form.validate_on_submit():
        return _save(form, None)
    return form_window(form, None)


@bp.route("/carteras/<id:cartera_id>/editar", methods=["GET", "POST"])
@login_required
def cartera_edit(cartera_id: int) -> str | Response:
    managers_only()
    cartera = carteras.get_cartera(db.session(), me(), cartera_id)
    form = CarteraForm(obj=cartera)
    _choices(form)
    if form.validate_on_submit():
        return _save(form, cartera_id)
    return form_window(form, cartera_id)


@bp.post("/carteras/<id:cartera_id>/<any(activar, desactivar):state>")
@login_required
def cartera_state(cartera_id: int, state: str) -> Response:
    managers_only()
    if not ActionForm().validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))
    carteras.set_active(db.session(), me(), cartera_id, state == "activar")
    db.session.commit()
    flash(_("Cartera activada.") if state == "activar" else _("Cartera desactivada."))
    return redirect(url_for("ui.carteras", q=request.args.get("q", "")))
