"""Pages of Usuarios (admins only): list, new/edit profile with its carteras, activate and
deactivate, a new password, API tokens (each shown once) and their revocation.

The views call the same domain use cases as /api/users (``profiles``, ``users``, ``tokens``),
so the rules and audit events are the same; the domain's English errors are put in Spanish
next to the field here.
"""

from __future__ import annotations

import re
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from service.domain import carteras, org, profiles, tokens, users
from service.domain.actor import ROLES
from service.domain.errors import Conflict, DomainError, Invalid, NotFound
from service.domain.pagination import MAX_PER_PAGE
from service.extensions import db
from service.models import Cartera, User
from service.ui import bp
from service.ui.auth import SessionUser, me
from service.ui.carteras import PER_PAGE, page_number
from service.ui.forms import (
    ROLE_LABELS,
    ActionForm,
    NewUserForm,
    PasswordForm,
    TokenForm,
    UserForm,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_CARTERA_PAGES = 10  # the multi-select offers up to 2,000 carteras
LIST_ARGS = ("q", "role", "active", "page")


def admins_only() -> None:
    if not me().is_admin:
        abort(403, _("Solo los administradores gestionan usuarios."))


def _checked_csrf() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, _("Falta el token de seguridad del formulario; recargue la página."))


def _user_or_404(user_id: int) -> User:
    try:
        return profiles.get_user(db.session(), me(), user_id)
    except NotFound:
        abort(404, _("Ese usuario no existe."))


def _in_spanish(field: str, message: str) -> str:
    """The domain's English field errors (users.create_user, profiles.update_user,
    users.set_password, tokens.issue_user_token), as the pages say them."""
    text: str
    if field == "password":
        text = _("Use al menos %(n)d caracteres.", n=users.MIN_PASSWORD)
    elif field == "email":
        text = _("Escriba un correo electrónico válido, como nombre@empresa.com.")
    elif field == "name":
        empty = "empty" in message
        text = _("Escriba un nombre.") if empty else _("Use como máximo 120 caracteres.")
    elif field == "agent_id" and message.startswith("only the agent role"):
        text = _("Solo el rol Agente se vincula a un agente.")
    elif field == "agent_id" and message.startswith("the agent role needs"):
        text = _("Elija el agente vinculado a este usuario.")
    elif field == "agent_id":
        text = _("Ese agente no existe.")
    elif field == "cartera_ids":
        text = _("Alguna de las carteras elegidas ya no existe; recargue la página.")
    elif field == "role" and "demote" in message:
        text = _("No puede quitarse el rol de administrador: perdería el acceso a Usuarios.")
    elif field == "role":
        text = _("Elija un rol válido.")
    else:
        text = _("Revise este dato.")
    return text


def _place(form: Any, error: DomainError, editing_self: bool = False) -> None:
    """Put a domain error, in Spanish, next to its field (or in a flash if it has none)."""
    if isinstance(error, Conflict) and error.details.get("field") == "email":
        _add(form.email, _("Ya existe un usuario con ese correo."))
        return
    fields = (error.details.get("fields") or {}) if isinstance(error, Invalid) else {}
    placed = False
    for name, messages in fields.items():
        if name == "role" and editing_self and "demote" in " ".join(messages):
            placed = _refuse_self(form)
            continue
        field = getattr(form, name, None)
        if field is not None:
            for message in messages:
                _add(field, _in_spanish(name, message))
            placed = True
    if not placed:
        flash(_("No se pudo guardar; revise los datos."), "error")


def _add(field: Any, message: str) -> None:
    field.errors = [*field.errors, message]


def _refuse_self(form: UserForm) -> bool:
    """The domain refuses an admin deactivating or demoting itself: say which one."""
    if not form.active.data:
        _add(form.active, _("No puede desactivar su propia cuenta: perdería el acceso a Usuarios."))
    if form.role.data != "admin":
        _add(form.role, _in_spanish("role", "demote"))
    return True


def _recheck_live() -> None:
    """Access changed: end at once the live connections that lost it (as the API does)."""
    live = current_app.extensions.get("live_connections")
    if live is not None:
        live.recheck()


def _stay_signed_in(user: User) -> None:
    """A new password or a revoked token ends all of the user's sessions; when the admin did
    it to itself, this session goes on with the new version (the others end)."""
    if user.id != current_user.id:
        return
    actor = users.actor_for(user)
    if actor is not None:
        login_user(SessionUser(actor, user.session_version))


def _list_args() -> dict[str, Any]:
    return {k: v for k in LIST_ARGS if (v := request.args.get(k, "")) and len(v) <= 200}


@bp.get("/usuarios", endpoint="users")
@login_required
def users_list() -> str:
    admins_only()
    # no control characters: PostgreSQL refuses NUL in text, and nobody types them
    q = _CONTROL.sub("", request.args.get("q", "")).strip()[:200]
    role = request.args.get("role", "")
    role = role if role in ROLES else ""
    active = request.args.get("active", "")
    active = active if active in ("1", "0") else ""
    filters = profiles.UserFilters(
        q=q or None, role=role or None, active=(active == "1") if active else None
    )
    found = profiles.list_users(db.session(), me(), filters, page_number(), PER_PAGE)
    return render_template(
        "users/list.html",
        page=found,
        q=q,
        role=role,
        active=active,
        roles=ROLE_LABELS,
        here=_list_args(),
        action=ActionForm(),
    )


def _choices(form: UserForm) -> list[Cartera]:
    """Fill the agent and cartera choices; the carteras (with icon and colour) for the list."""
    session, actor = db.session(), me()
    agents = org.list_agents(session, None, None, None, 1, MAX_PER_PAGE).items
    form.agent_id.choices = [(None, _("— Ninguno —"))] + [
        (a.id, a.name if a.active else _("%(name)s (inactivo)", name=a.name)) for a in agents
    ]
    options: list[Cartera] = []
    for number in range(1, MAX_CARTERA_PAGES + 1):
        found = carteras.list_carteras(
            session, actor, carteras.CarteraFilters(), number, MAX_PER_PAGE
        )
        options += [cartera for cartera, _count in found.items]
        if number * MAX_PER_PAGE >= found.total:
            break
    form.cartera_ids.choices = [(c.id, c.name) for c in options]
    return options


def _profile(form: UserForm) -> dict[str, Any]:
    """The form as the domain's fields: the agent only for the agent role; with "Todas las
    carteras" the granted ones are left as they are (the list is disabled, not cleared)."""
    all_carteras = bool(form.all_carteras.data)
    data: dict[str, Any] = {
        "name": form.name.data or "",
        "role": form.role.data,
        "agent_id": form.agent_id.data if form.role.data == "agent" else None,
        "all_carteras": all_carteras,
    }
    if not all_carteras:
        data["cartera_ids"] = list(form.cartera_ids.data or [])
    return data


def _form_page(form: UserForm, options: list[Cartera], user: User | None) -> str:
    return render_template(
        "users/form.html", form=form, options=options, user=user, min_length=users.MIN_PASSWORD
    )


@bp.route("/usuarios/nuevo", methods=["GET", "POST"])
@login_required
def user_new() -> str | Response:
    admins_only()
    form = NewUserForm()
    options = _choices(form)
    if form.validate_on_submit():
        data = _profile(form)
        try:
            user = users.create_user(
                db.session(),
                me(),
                email=form.email.data or "",
                name=data["name"],
                role=data["role"],
                password=form.password.data or None,
                agent_id=data["agent_id"],
                all_carteras=data["all_carteras"],
                cartera_ids=data.get("cartera_ids", ()),
            )
            db.session.commit()
        except (Invalid, Conflict) as error:
            db.session.rollback()
            _place(form, error)
        else:
            flash(_("Usuario %(name)s creado.", name=user.name))
            return redirect(url_for("ui.users"))
    return _form_page(form, options, None)


@bp.route("/usuarios/<id:user_id>/editar", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int) -> str | Response:
    admins_only()
    user = _user_or_404(user_id)
    form = UserForm(obj=user)
    options = _choices(form)
    if request.method == "GET" or (form.all_carteras.data and not form.cartera_ids.data):
        form.cartera_ids.data = [c.id for c in user.carteras]
    if not form.validate_on_submit():
        return _form_page(form, options, user)
    data = {**_profile(form), "active": bool(form.active.data)}
    email = (form.email.data or "").strip()
    if email:
        data["email"] = email
    elif user.email is not None:
        _add(form.email, _("Escriba el correo: con él ingresa el usuario."))
        return _form_page(form, options, user)
    try:
        profiles.update_user(db.session(), me(), user_id, data)
        db.session.commit()
    except (Invalid, Conflict) as error:
        db.session.rollback()
        _place(form, error, editing_self=user_id == current_user.id)
        return _form_page(form, options, user)
    _recheck_live()
    flash(_("Usuario %(name)s guardado.", name=user.name))
    return redirect(url_for("ui.users"))


@bp.post("/usuarios/<id:user_id>/<any(activar, desactivar):state>")
@login_required
def user_state(user_id: int, state: str) -> Response:
    admins_only()
    _checked_csrf()
    user = _user_or_404(user_id)
    try:
        profiles.update_user(db.session(), me(), user_id, {"active": state == "activar"})
        db.session.commit()
    except Invalid:
        db.session.rollback()  # the domain refuses an admin deactivating itself
        flash(_("No puede desactivar su propia cuenta: perdería el acceso a Usuarios."), "error")
    else:
        _recheck_live()
        if state == "activar":
            flash(_("Usuario %(name)s activado.", name=user.name))
        else:
            flash(
                _(
                    "Usuario %(name)s desactivado: sus sesiones y tokens dejan de valer.",
                    name=user.name,
                )
            )
    return redirect(url_for("ui.users", **_list_args()))


@bp.route("/usuarios/<id:user_id>/clave", methods=["GET", "POST"])
@login_required
def user_password(user_id: int) -> str | Response:
    admins_only()
    user = _user_or_404(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            users.set_password(db.session(), me(), user_id, form.password.data or "")
            db.session.commit()
        except Invalid as error:
            db.session.rollback()
            _place(form, error)
        else:
            _stay_signed_in(user)
            _recheck_live()
            flash(
                _(
                    "Contraseña de %(name)s cambiada; sus otras sesiones se cerraron.",
                    name=user.name,
                )
            )
            return redirect(url_for("ui.user_edit", user_id=user_id))
    return render_template(
        "users/password.html", form=form, user=user, min_length=users.MIN_PASSWORD
    )


@bp.route("/usuarios/<id:user_id>/tokens", methods=["GET", "POST"])
@login_required
def user_tokens(user_id: int) -> Response:
    admins_only()
    session, actor = db.session(), me()
    user = _user_or_404(user_id)
    form, secret = TokenForm(), None
    if form.validate_on_submit():
        try:
            issued = tokens.issue_user_token(session, actor, user_id, form.name.data or "")
            secret = issued.secret
            db.session.commit()
        except Invalid as error:
            db.session.rollback()
            _place(form, error)
        else:
            flash(_("Token creado."))
            form = TokenForm(formdata=None)
    rows = tokens.list_user_tokens(session, actor, user_id)
    page = render_template(
        "users/tokens.html", user=user, form=form, rows=rows, secret=secret, action=ActionForm()
    )
    response = make_response(page)
    # The new token is in this page only: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/usuarios/<id:user_id>/tokens/<id:token_id>/revocar")
@login_required
def user_token_revoke(user_id: int, token_id: int) -> Response:
    admins_only()
    _checked_csrf()
    session, actor = db.session(), me()
    try:
        token = tokens.token_of(session, actor, user_id, token_id)
    except NotFound:
        abort(404, _("Ese token no existe."))
    name, owner = token.name, token.user
    tokens.revoke_token(session, actor, token.id)
    db.session.commit()
    _stay_signed_in(owner)
    _recheck_live()
    flash(_("Token «%(name)s» revocado: quien lo use ya no tiene acceso.", name=name))
    return redirect(url_for("ui.user_tokens", user_id=user_id))
