"""Sign-in with email and password into a session cookie; the signed-in person as an Actor."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from service.domain.actor import Actor
from service.domain.users import actor_of, check_password
from service.extensions import db
from service.models import User
from service.ui import bp
from service.ui.forms import ActionForm, LoginForm


class SessionUser(UserMixin):  # type: ignore[misc]
    def __init__(self, user: User) -> None:
        self.id, self.name, self.email = user.id, user.name, user.email
        self.role, self.agent_id = user.role, user.agent_id
        self._user = user

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_manager(self) -> bool:
        return self.role in ("admin", "coordinator")

    def actor(self) -> Actor:
        return actor_of(self._user, g.get("request_id"))


def load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return SessionUser(user) if user is not None and user.active else None


def me() -> Actor:
    """The signed-in person, as the domain's Actor."""
    actor: Actor = current_user.actor()
    return actor


@bp.route("/ingresar", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = check_password(db.session(), form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(SessionUser(user))
            target = request.args.get("next", "")
            # only local paths, never another site
            return redirect(
                target
                if target.startswith("/") and not target.startswith("//")
                else url_for("ui.home")
            )
        form.password.errors.append(_("Correo o contraseña incorrectos."))
    return render_template("login.html", form=form)


@bp.post("/salir")
@login_required
def logout() -> Response:
    if ActionForm().validate_on_submit():
        logout_user()
        flash(_("Sesión cerrada."))
    return redirect(url_for("ui.login"))


@bp.get("/")
@login_required
def home() -> Response:
    return redirect(url_for("ui.carteras" if current_user.is_manager else "ui.agent_page"))
