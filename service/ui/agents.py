"""Pages of Agentes (issue 13): managers with every cartera list, create, edit, activate,
deactivate and delete agents, and hand an agent's carteras over in a two-step wizard (choose,
see the dry run, confirm). Everyone else gets 403.

The views call the same domain use cases as /api/agents and POST /api/agents/<id>/handover
(``org``, ``handover``; then ``enqueue_reforwards`` after the commit, as the API does).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from service.domain import handover, org
from service.domain.errors import Conflict, DomainError, Invalid
from service.domain.pagination import MAX_PER_PAGE
from service.extensions import db
from service.jobs.enqueue import enqueue_reforwards
from service.models import Agent, Team
from service.ui import bp
from service.ui.auth import me
from service.ui.carteras import PER_PAGE, page_number
from service.ui.formats import ngettext
from service.ui.forms import ActionForm, AgentForm, HandoverForm
from service.ui.org import (
    agent_or_404,
    all_carteras_only,
    carteras_of,
    checked_csrf,
    place,
    recheck_live,
    typed,
)

LIST_ARGS = ("q", "team_id", "active", "page")


def list_args() -> dict[str, Any]:
    """The list's filters, kept across an action on a row."""
    return {k: v for k in LIST_ARGS if (v := typed(k))}


def team_choices() -> list[Team]:
    return list(org.list_teams(db.session(), None, 1, MAX_PER_PAGE).items)


def _chosen_team(teams: list[Team]) -> int | None:
    value = request.args.get("team_id", "")
    if value.isascii() and value.isdigit() and int(value) in {t.id for t in teams}:
        return int(value)
    return None


@bp.get("/agentes", endpoint="agents")
@login_required
def agents_list() -> str:
    all_carteras_only()
    q = typed("q")
    teams = team_choices()
    team_id = _chosen_team(teams)
    active = request.args.get("active", "")
    active = active if active in ("1", "0") else ""
    state = (active == "1") if active else None
    found = org.list_agents(db.session(), q or None, team_id, state, page_number(), PER_PAGE)
    return render_template(
        "agents/list.html",
        page=found,
        q=q,
        team_id=team_id,
        active=active,
        teams=teams,
        here=list_args(),
        action=ActionForm(),
    )


def _agent_data(form: AgentForm) -> dict[str, Any]:
    return {
        "name": form.name.data or "",
        "email": form.email.data or None,
        "rocketchat_user_id": form.rocketchat_user_id.data or None,
        "rocketchat_username": form.rocketchat_username.data or None,
        "team_ids": list(form.team_ids.data or []),
        "max_open_chats": form.max_open_chats.data,
        "active": bool(form.active.data),
    }


def _stranded(error: DomainError, agent: Agent | None) -> str:
    """The names of the carteras an agent would leave behind (update_agent's refusal)."""
    ids = set(error.details.get("cartera_ids") or [])
    if not ids or agent is None:
        return ""
    return ", ".join(c.name for c in carteras_of(agent_id=agent.id) if c.id in ids)


def _save(form: AgentForm, agent: Agent | None) -> str | Response:
    data = _agent_data(form)
    try:
        if agent is None:
            saved = org.create_agent(db.session(), me(), data)
        else:
            saved = org.update_agent(db.session(), me(), agent.id, data)
        db.session.commit()
    except (Invalid, Conflict) as error:
        db.session.rollback()
        place(form, error, _stranded(error, agent))
        return _form_page(form, agent)
    recheck_live()
    flash(_("Agente %(name)s guardado.", name=saved.name))
    return redirect(url_for("ui.agents"))


def _form_page(form: AgentForm, agent: Agent | None) -> str:
    owned = carteras_of(agent_id=agent.id) if agent else []
    return render_template("agents/form.html", form=form, agent=agent, owned=owned)


def _agent_form(agent: Agent | None) -> AgentForm:
    form = AgentForm(obj=agent)
    form.team_ids.choices = [(t.id, t.name) for t in team_choices()]
    if agent is not None and request.method == "GET":
        form.team_ids.data = [t.id for t in agent.teams]
    return form


@bp.route("/agentes/nuevo", methods=["GET", "POST"])
@login_required
def agent_new() -> str | Response:
    all_carteras_only()
    form = _agent_form(None)
    if form.validate_on_submit():
        return _save(form, None)
    return _form_page(form, None)


@bp.route("/agentes/<id:agent_id>/editar", methods=["GET", "POST"])
@login_required
def agent_edit(agent_id: int) -> str | Response:
    all_carteras_only()
    agent = agent_or_404(agent_id)
    form = _agent_form(agent)
    if form.validate_on_submit():
        return _save(form, agent)
    return _form_page(form, agent)


@bp.post("/agentes/<id:agent_id>/<any(activar, desactivar):state>")
@login_required
def agent_state(agent_id: int, state: str) -> Response:
    all_carteras_only()
    checked_csrf()
    agent = agent_or_404(agent_id)
    org.update_agent(db.session(), me(), agent_id, {"active": state == "activar"})
    db.session.commit()
    recheck_live()
    if state == "activar":
        flash(_("Agente %(name)s activado.", name=agent.name))
    else:
        flash(
            _(
                "Agente %(name)s desactivado: ya no recibe conversaciones y sus sesiones se "
                "cerraron.",
                name=agent.name,
            )
        )
    return redirect(url_for("ui.agents", **list_args()))


@bp.post("/agentes/<id:agent_id>/eliminar")
@login_required
def agent_delete(agent_id: int) -> Response:
    all_carteras_only()
    checked_csrf()
    name = agent_or_404(agent_id).name
    try:
        org.delete_agent(db.session(), me(), agent_id)
        db.session.commit()
    except Conflict as error:
        db.session.rollback()
        owned = len(error.details.get("cartera_ids") or [])
        users = len(error.details.get("user_ids") or [])
        if owned:
            message = ngettext(
                "No se puede eliminar a %(name)s: es dueño de %(num)s cartera (abajo). "
                "Use «Traspasar carteras» o desactívelo.",
                "No se puede eliminar a %(name)s: es dueño de %(num)s carteras (abajo). "
                "Use «Traspasar carteras» o desactívelo.",
                owned,
                name=name,
            )
        else:
            message = ngettext(
                "No se puede eliminar a %(name)s: %(num)s usuario ingresa como este agente. "
                "Desactívelo en lugar de eliminarlo.",
                "No se puede eliminar a %(name)s: %(num)s usuarios ingresan como este agente. "
                "Desactívelo en lugar de eliminarlo.",
                users,
                name=name,
            )
        flash(message, "error")
        return redirect(url_for("ui.agent_edit", agent_id=agent_id))
    flash(_("Agente %(name)s eliminado.", name=name))
    return redirect(url_for("ui.agents"))


# --- Traspasar carteras: choose, see the dry run, confirm ------------------------------------


def _handover_form(agent: Agent) -> HandoverForm:
    form = HandoverForm()
    others = org.list_agents(db.session(), None, None, True, 1, MAX_PER_PAGE).items
    form.to_agent_id.choices = [(None, _("— Solo el equipo (sin dueño) —"))] + [
        (a.id, _handover_label(a)) for a in others if a.id != agent.id
    ]
    return form


def _handover_label(agent: Agent) -> str:
    teams = ", ".join(t.name for t in agent.teams)
    return f"{agent.name} ({teams})" if teams else agent.name


def _handover_error(message: str, names: str) -> str:
    """handover.plan's English refusals of ``to_agent_id``, as the page says them."""
    text: str
    if message.startswith("hand over to someone else"):
        text = _("Elija a otro agente: no puede traspasarse a sí mismo.")
    elif message.startswith("no such agent"):
        text = _("Ese agente ya no existe; elija otro.")
    elif message.startswith("the agent is inactive"):
        text = _("Ese agente está inactivo; elija uno activo.")
    elif message.startswith("has no team"):
        text = _(
            "Estas carteras no tienen equipo que las atienda: %(names)s. Elija un agente que "
            "las reciba.",
            names=names,
        )
    elif message.startswith("belongs to a team"):
        text = _(
            "El agente elegido no está en el equipo de: %(names)s. Elija a otro o agréguelo a "
            "ese equipo.",
            names=names,
        )
    else:
        text = _("Elija a quién pasan las carteras.")
    return text


def _plan(agent: Agent, form: HandoverForm) -> handover.HandoverPlan | None:
    """The dry run of the handover the form asks for (nothing is written), or None with the
    refusal in Spanish next to the field."""
    try:
        plan = handover.plan(
            db.session(),
            me(),
            agent.id,
            to_agent_id=form.to_agent_id.data,
            deactivate_agent=bool(form.deactivate_agent.data),
            open_conversations=form.open_conversations.data,
        )
    except Invalid as error:
        db.session.rollback()
        names = ", ".join(error.details.get("carteras") or [])
        messages = (error.details.get("fields") or {}).get("to_agent_id") or [error.message]
        form.to_agent_id.errors = [_handover_error(m, names) for m in messages]
        return None
    db.session.rollback()
    return plan


def _open_conversations(agent: Agent, form: HandoverForm) -> int:
    """Open conversations of the agent in the carteras that move (the plan lists them only
    when they are to be re-forwarded)."""
    counted = handover.plan(
        db.session(),
        me(),
        agent.id,
        to_agent_id=form.to_agent_id.data,
        deactivate_agent=False,
        open_conversations="reforward",
    )
    db.session.rollback()
    return len(counted.conversation_ids)


def _expected(plan: handover.HandoverPlan) -> str:
    return ",".join(str(c["id"]) for c in plan.carteras)


def _preview(agent: Agent, form: HandoverForm, plan: handover.HandoverPlan) -> str:
    form.expected.data = _expected(plan)
    return render_template(
        "agents/handover_preview.html",
        agent=agent,
        form=form,
        plan=plan,
        open_count=_open_conversations(agent, form),
    )


@bp.route("/agentes/<id:agent_id>/traspasar", methods=["GET", "POST"])
@login_required
def agent_handover(agent_id: int) -> str:
    all_carteras_only()
    agent = agent_or_404(agent_id)
    form = _handover_form(agent)
    if form.validate_on_submit() and (plan := _plan(agent, form)) is not None:
        return _preview(agent, form, plan)
    owned = carteras_of(agent_id=agent.id)
    return render_template("agents/handover.html", agent=agent, form=form, owned=owned)


@bp.post("/agentes/<id:agent_id>/traspasar/confirmar")
@login_required
def agent_handover_apply(agent_id: int) -> str | Response:
    all_carteras_only()
    agent = agent_or_404(agent_id)
    form = _handover_form(agent)
    if not form.validate_on_submit() or (plan := _plan(agent, form)) is None:
        owned = carteras_of(agent_id=agent.id)
        return render_template("agents/handover.html", agent=agent, form=form, owned=owned)
    if _expected(plan) != (form.expected.data or ""):
        # Carteras changed hands since the preview: show the new one instead of applying.
        flash(_("Las carteras del agente cambiaron desde la vista previa; revísela."), "error")
        return _preview(agent, form, plan)
    handover.apply(db.session(), me(), plan)
    db.session.commit()
    recheck_live()
    enqueue_reforwards(plan.conversation_ids)
    moved = len(plan.carteras)
    if plan.to_agent_name:
        text = ngettext(
            "%(num)s cartera de %(name)s pasó a %(to)s.",
            "%(num)s carteras de %(name)s pasaron a %(to)s.",
            moved,
            name=plan.agent_name,
            to=plan.to_agent_name,
        )
    else:
        text = ngettext(
            "%(num)s cartera de %(name)s quedó solo con su equipo.",
            "%(num)s carteras de %(name)s quedaron solo con su equipo.",
            moved,
            name=plan.agent_name,
        )
    if plan.deactivate_agent:
        text = _("%(done)s %(name)s quedó inactivo.", done=text, name=plan.agent_name)
    flash(text)
    return redirect(url_for("ui.agents"))
