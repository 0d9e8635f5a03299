"""The web pages (Spanish by default): sign-in, Carteras, Contactos, Auditoría, Usuarios, the
agent's page.

Server-rendered Jinja with a little JavaScript; every form carries a CSRF token (Flask-WTF);
views call the same domain use cases as the REST API.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse
from wtforms.validators import ValidationError

from service.domain.errors import DomainError, Forbidden, NotFound
from service.extensions import db

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)
LANGUAGES = ("es", "en")
# Spanish is Latin American Spanish (es-419, the pages' lang): numbers as "12,000".
LOCALES = {"es": "es_419", "en": "en"}


def select_locale() -> str:
    """Spanish unless the person chose another language (?lang=en, kept in the session)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return LOCALES.get(str(session.get("lang", "es")), LOCALES["es"])


def init_ui(app: Flask) -> None:
    from service.ui import (  # noqa: F401  (registers the views)
        agents,
        auth,
        carteras,
        contacts,
        members,
        org,
        pages,
        regions,
        rocketchat,
        users,
    )
    from service.ui.formats import init_formats
    from service.ui.headers import init_headers

    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SECURE"] = app.config["CARTERAS"].secure_cookies
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session bounds it
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(
        __import__("pathlib").Path(__file__).parent / "translations"
    )
    # CSRF is checked per form (FlaskForm), not app-wide: the API and webhooks have their own
    # authentication. Templates get the token for the small action forms.
    app.jinja_env.globals["csrf_token"] = generate_csrf
    Babel(app, locale_selector=select_locale)
    init_formats(app)
    login = LoginManager(app)
    login.login_view = "ui.login"
    login.login_message = None
    login.user_loader(auth.load_user)
    login.unauthorized_handler(auth.unauthorized)
    app.register_blueprint(bp)
    auth.init_throttling(app)
    # Security headers on every response, the API's and /docs' too (registered before us).
    init_headers(app)


@bp.before_request
def _stale_form() -> BaseResponse | None:
    """A form whose security token no longer holds (the session it came from ended: sign-out,
    expiry, a password change) goes back to its page with "El formulario caducó" instead of
    doing nothing or answering 400. A POST without any token is still refused (400) by its
    view: no page of ours sends one."""
    if request.method != "POST" or not request.form.get("csrf_token"):
        return None
    try:
        validate_csrf(request.form["csrf_token"])
    except ValidationError:
        flash(_("El formulario caducó, inténtelo de nuevo."), "error")
        return redirect(back_to())
    return None


def back_to() -> str:
    """Where to send the person after a refused form: the page it came from (on this site),
    else the form's own page when it has one, else home."""
    from service.ui.auth import local_target

    came_from = request.referrer or ""
    if came_from.startswith(request.host_url):
        target = local_target("/" + came_from[len(request.host_url) :].lstrip("/"))
        if target:
            return target
    adapter = current_app.url_map.bind("")
    try:
        adapter.match(request.path, method="GET")
        return request.full_path.rstrip("?")
    except HTTPException:
        return url_for("ui.home")


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"lang": session.get("lang", "es")}


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    db.session.rollback()
    from service.ui.messages import explain

    status = 404 if isinstance(error, NotFound) else 403 if isinstance(error, Forbidden) else 400
    return render_template("error.html", status=status, message=explain(error)), status


@bp.errorhandler(HTTPException)
def error_page(error: HTTPException) -> tuple[str, int, list[tuple[str, str]]]:
    """The error as a page: our own ``abort(status, _("..."))`` text, else the status said
    in Spanish (never Werkzeug's English description)."""
    from service.ui.messages import status_text

    status = error.code or 500
    own = error.description and error.description != type(error).description
    message = error.description if own else status_text(status)
    # a 405 still says which methods the address takes (Allow)
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return render_template("error.html", status=status, message=message), status, headers
