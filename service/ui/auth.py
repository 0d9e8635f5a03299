"""Sign-in with email and password into a session cookie; the signed-in person as an Actor.

A session's id is ``"<user id>:<session version>"`` (Flask-Login's alternative id): bumping
the user's version (sign-out, password change, deactivation) ends all its sessions, and each
request re-checks ``users.actor_for``. Sign-in is throttled per account and per client
address (Flask-Limiter; counters in Redis when there is one), with growing waits.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from service.domain import users
from service.domain.actor import Actor
from service.extensions import db
from service.ui import bp
from service.ui.formats import ngettext
from service.ui.forms import ActionForm, LoginForm

log = logging.getLogger("carteras.auth")

# Failed sign-ins allowed per account and per client address: each window is a longer wait
# (a minute, then an hour, then a day). An office behind one address gets more room.
ACCOUNT_LIMITS = "5 per minute; 20 per hour; 50 per day"
ADDRESS_LIMITS = "10 per minute; 50 per hour; 200 per day"
_SESSION_ID = re.compile(r"([0-9]{1,10}):([0-9]{1,10})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_ID = 2**31 - 1


class SessionUser(UserMixin):  # type: ignore[misc]
    """The signed-in person: the domain's Actor and the session version its id carries."""

    def __init__(self, actor: Actor, session_version: int) -> None:
        self._actor, self.session_version = actor, session_version
        self.id, self.name = actor.user_id, actor.name
        self.role, self.agent_id = actor.role, actor.agent_id

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_manager(self) -> bool:
        return self._actor.is_manager

    @property
    def manages_all(self) -> bool:
        """A manager with every cartera (creates carteras, teams, regions)."""
        return self._actor.manages_all

    def actor(self) -> Actor:
        return self._actor.with_request(g.get("request_id"))


def load_user(session_id: str) -> SessionUser | None:
    """Flask-Login's loader, on every request: the session must carry the user's current
    session version, and the user (and its agent) must still be active."""
    match = _SESSION_ID.fullmatch(session_id)
    if match is None or int(match[1]) > _MAX_ID:
        return None  # also sessions made before versions existed: sign in again
    user_id, version = int(match[1]), int(match[2])
    actor = users.session_actor(db.session(), user_id, version)
    return SessionUser(actor, version) if actor is not None else None


def me() -> Actor:
    """The signed-in person, as the domain's Actor."""
    actor: Actor = current_user.actor()
    return actor


def local_target(raw: str | None) -> str | None:
    """Where ``?next=`` may send the person after signing in: a path on this site, or None.

    Browsers drop control characters and read ``\\`` as ``/``, so ``/\\t/evil.com`` and
    ``/\\evil.com`` lead to another site: the target is judged as a browser would read it,
    and also once percent-decoded (``/%2F%2Fevil.com``).
    """
    if not raw or len(raw) > 2000:
        return None
    target = _CONTROL.sub("", raw)
    for reading in (target, _CONTROL.sub("", unquote(target))):
        if not reading.startswith("/") or reading.startswith("//") or "\\" in reading:
            return None
        parts = urlsplit(reading)
        if parts.scheme or parts.netloc:
            return None
    return target


def _account_key() -> str:
    """The throttling key of the account being tried (a hash, never the address)."""
    email = request.form.get("email", "")
    return f"account:{users.email_fingerprint(email)}" if email.strip() else ""


def _client() -> str:
    """The client address as a short hash: limiter keys and logs never show the address."""
    return hashlib.sha256(get_remote_address().encode()).hexdigest()[:16]


def _address_key() -> str:
    return f"address:{_client()}"


def _failed(_response: Response) -> bool:
    """Only a wrong email or password counts against the limits."""
    return bool(g.get("sign_in_failed"))


def _attempt_extra() -> dict[str, str]:
    return {"account": users.email_fingerprint(request.form.get("email", "")), "client": _client()}


@bp.route("/ingresar", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = users.check_password(db.session(), form.email.data or "", form.password.data or "")
        actor = users.actor_for(user)
        if user is not None and actor is not None:
            login_user(SessionUser(actor, user.session_version))
            log.info("sign-in", extra={"user_id": user.id, **_attempt_extra()})
            return redirect(local_target(request.args.get("next")) or url_for("ui.home"))
        g.sign_in_failed = True
        log.info("sign-in failed", extra=_attempt_extra())
        form.password.errors.append(_("Correo o contraseña incorrectos."))
    return render_template("login.html", form=form)


def unauthorized() -> Response:
    """Flask-Login's answer to a page that needs a session: to sign-in, saying why (a session
    that ended, or none yet), and back to the page afterwards (for a form sent after the
    session ended: the page it was sent from)."""
    from service.ui import back_to

    ended = "_user_id" in session  # a session whose user, version or agent no longer holds
    flash(
        _("Su sesión terminó; ingrese de nuevo para seguir donde estaba.")
        if ended
        else _("Ingrese para continuar."),
        "info",
    )
    target = request.full_path.rstrip("?") if request.method == "GET" else back_to()
    return redirect(url_for("ui.login", next=local_target(target) or None))


@bp.errorhandler(RateLimitExceeded)
def _too_many_attempts(error: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
    limit = throttle().current_limit
    seconds = max(1, math.ceil(limit.window.reset_time - time.time())) if limit else 60
    log.warning("sign-in throttled", extra={"limit": str(error.limit.limit), **_attempt_extra()})
    minutes = math.ceil(seconds / 60)
    if minutes <= 90:
        wait = ngettext(
            "Demasiados intentos. Espere %(num)s minuto e intente de nuevo.",
            "Demasiados intentos. Espere %(num)s minutos e intente de nuevo.",
            minutes,
        )
    else:
        wait = ngettext(
            "Demasiados intentos. Espere %(num)s hora e intente de nuevo.",
            "Demasiados intentos. Espere %(num)s horas e intente de nuevo.",
            math.ceil(minutes / 60),
        )
    page = render_template("login.html", form=LoginForm(), throttled=wait)
    return page, 429, {"Retry-After": str(seconds)}


@bp.post("/salir")
@login_required
def logout() -> Response:
    if ActionForm().validate_on_submit():
        # Ends this user's sessions everywhere, and its live connections.
        users.sign_out(db.session(), current_user.id)
        db.session.commit()
        logout_user()
        live = current_app.extensions.get("live_connections")
        if live is not None:
            live.recheck()
        flash(_("Sesión cerrada."))
    return redirect(url_for("ui.login"))


@bp.get("/")
@login_required
def home() -> Response:
    return redirect(url_for("ui.carteras" if current_user.is_manager else "ui.agent_page"))


def throttle(app: Flask | None = None) -> Limiter:
    """This app's sign-in limiter (tests reset it with ``throttle(app).reset()``)."""
    limiter: Limiter = (app or current_app).extensions["sign_in_limiter"]
    return limiter


def init_throttling(app: Flask) -> None:
    """One limiter per app (like Socket.IO: a shared one would follow the last app built),
    counting in Redis when REDIS_URL is set so every web process shares the counts; if Redis
    is away it falls back to counting in memory rather than refusing every sign-in."""
    hooks: tuple[dict[str | None, list[Any]], ...] = (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
    )
    before = [len(funcs.get(None, [])) for funcs in hooks]
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=app.config["CARTERAS"].redis_url or "memory://",
        strategy="moving-window",
        key_prefix="carteras-sign-in",
        in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    app.extensions["sign_in_limiter"] = limiter
    # Only the pages have limits: the limiter's per-request hooks run for the ui blueprint
    # alone, not for every webhook and API call (a fifth of a webhook's time, measured).
    for funcs, count in zip(hooks, before, strict=True):
        added = funcs[None][count:]
        del funcs[None][count:]
        funcs.setdefault("ui", []).extend(added)
    view: Any = login
    for limits, key in ((ACCOUNT_LIMITS, _account_key), (ADDRESS_LIMITS, _address_key)):
        view = limiter.limit(limits, key_func=key, methods=["POST"], deduct_when=_failed)(view)
    app.view_functions["ui.login"] = view
