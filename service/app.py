"""The composition root: ``create_app`` builds the Flask app from a Config.

Nothing here runs at import time; wsgi.py calls the factory.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import SocketIO
from sqlalchemy import event
from werkzeug.exceptions import HTTPException

from service.config import Config
from service.domain.ports import ChatPlatform, JobQueue, Ports, ReplySender

if TYPE_CHECKING:
    from webhooks.lane import Lane

MIGRATIONS = Path(__file__).parent / "migrations"


def _secret_key(config: Config, instance: Path) -> str:
    if config.secret_key:
        return config.secret_key
    if not config.embedded and not config.testing:
        raise RuntimeError("SECRET_KEY must be set when DATABASE_URL points at a server database")
    # Embedded default: a random key kept beside the SQLite file, made on first run.
    path = instance / "secret_key"
    try:
        # created private from the first byte (no window with the default umask), once
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _embedded_database(instance: Path) -> str:
    """The embedded SQLite file, made private before SQLAlchemy opens it: the folder 0700,
    the file 0600 (SQLite gives its journal and WAL files the same mode)."""
    instance.chmod(0o700)
    path = instance / "carteras.db"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def build_ports(config: Config, live: SocketIO, instance: Path | None = None) -> Ports:
    """The real adapters: RQ on Redis (on the embedded default, a background thread of this
    process), and Rocket.Chat (a recording stand-in when ROCKETCHAT_URL is unset)."""
    from flask_socketio import SocketIO
    from rq import Retry

    from service.adapters.live_badges import SocketIOBadges
    from service.adapters.recording_chat import RecordingChatPlatform
    from service.adapters.rocketchat import RocketChatClient
    from service.adapters.rq_queue import RQJobQueue
    from service.adapters.thread_queue import InlineJobQueue, ThreadJobQueue

    jobs: JobQueue
    if config.redis_url:
        # Exponential back-off for Rocket.Chat or database outages, then "failed" for replay.
        intervals = list(config.retry_intervals)
        jobs = RQJobQueue.from_url(
            config.redis_url, retry=Retry(max=len(intervals), interval=intervals)
        )
    elif config.jobs_inline:
        jobs = InlineJobQueue()
    else:
        jobs = ThreadJobQueue(retry_intervals=config.retry_intervals)
    chat: ChatPlatform
    if config.rocketchat_url and config.rocketchat_user_id and config.rocketchat_auth_token:
        chat = RocketChatClient(
            config.rocketchat_url,
            config.rocketchat_user_id,
            config.rocketchat_auth_token,
            no_agent_wait=config.no_agent_wait,
            quick_retries=config.rocketchat_quick_retries,
        )
    else:
        chat = RecordingChatPlatform()
    # Workers publish badges through Redis; the embedded default emits from the web process.
    emitter = SocketIO(message_queue=config.redis_url) if config.redis_url else live
    from service.adapters.channel_files import ChannelFilesClient

    files = ChannelFilesClient(
        Path(config.media_dir) if config.media_dir else (instance or Path(".")) / "media",
        whatsapp_token=config.whatsapp_access_token,
        whatsapp_api_url=config.whatsapp_api_url,
        twilio_account_sid=config.twilio_account_sid,
        twilio_auth_token=config.twilio_auth_token,
    )
    return Ports(
        jobs=jobs,
        chat=chat,
        badges=SocketIOBadges(emitter),
        senders=build_senders(config),
        files=files,
    )


def build_senders(config: Config) -> dict[str, ReplySender]:
    """One sender per channel family whose credentials are configured."""
    from service.adapters.mail_out import SmtpSender
    from service.adapters.whatsapp_out import TwilioSender, WhatsAppCloudSender

    senders: dict[str, ReplySender] = {}
    if config.whatsapp_access_token:
        senders["meta"] = WhatsAppCloudSender(config.whatsapp_access_token, config.whatsapp_api_url)
    if config.twilio_account_sid and config.twilio_auth_token:
        senders["twilio"] = TwilioSender(
            config.twilio_account_sid, config.twilio_auth_token, config.twilio_api_url
        )
    if config.smtp_host and config.smtp_from:
        senders["email"] = SmtpSender(
            config.smtp_host,
            config.smtp_port,
            config.smtp_from,
            user=config.smtp_user,
            password=config.smtp_password,
            starttls=config.smtp_starttls,
        )
    return senders


def _bind_in_process_jobs(app: Flask) -> None:
    """Jobs run by this process (the embedded default) run inside this app's context."""
    from service.adapters.thread_queue import InlineJobQueue, ThreadJobQueue

    jobs = app.extensions["ports"].jobs
    if isinstance(jobs, ThreadJobQueue | InlineJobQueue):
        jobs.bind(app.app_context)


def _sweep_in_process(app: Flask) -> None:
    """Embedded default: no worker runs, so the web process sweeps (pending rows, owner
    timeouts) into its job thread. Started by the first request, so CLI commands start no
    thread; ``app.extensions["carteras.sweep_stop"]`` stops it."""
    from service.jobs import sweeper

    lock, started = threading.Lock(), threading.Event()

    @app.before_request
    def _start() -> None:
        if started.is_set():
            return
        with lock:
            if not started.is_set():
                started.set()
                app.extensions["carteras.sweep_stop"] = sweeper.start_in_background(
                    app, app.config["CARTERAS"].sweep_interval
                )

    app.extensions[SWEEP_START] = _start  # the webhooks' lane has no before-request hooks


def _answer_unrouted_errors(app: Flask, json_error: Callable[[HTTPException], Any]) -> None:
    """An error outside every blueprint (no route for the address, or none for its method)
    and the API's: the JSON error body under the API, webhook, docs and probe addresses, or
    for a client that does not read HTML; the Spanish error page for anything else a browser
    opens. (A page's own errors have the ui blueprint's handler.)"""
    from service.ui import error_page

    machine = {
        rule.rule.split("/")[1]
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("ui.")
    }

    def answer(error: HTTPException) -> Any:
        html = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
        if request.path.split("/")[1] in machine or html != "text/html":
            return json_error(error)
        return error_page(error)

    app.register_error_handler(HTTPException, answer)


WEBHOOKS: Final = "webhooks"  # the blueprint (and first path segment) of the receivers
WEBHOOK_PATHS: Final = f"/{WEBHOOKS}/"
# app.extensions: the security headers of a webhook's answer (endpoint, https) -> headers;
# None when Talisman must run for webhooks (see _lighten_webhooks)
WEBHOOK_HEADERS: Final = "carteras.webhook_headers"
SWEEP_START: Final = "carteras.sweep_start"  # app.extensions: the embedded sweep's start


class _SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, not opened for webhooks: platforms send no cookie and
    their requests are authenticated by signature, so neither the session's serializer nor
    its save (and ``Vary: Cookie``) is paid per webhook. Anything there reads an empty
    session; writing to it raises (Flask's NullSession)."""

    def open_session(self, app: Flask, request: Request) -> Any:
        if request.path.startswith(WEBHOOK_PATHS):
            return self.null_session_class()
        return super().open_session(app, request)


# The headers of an empty response before Talisman adds its own.
PROBE_HEADERS: Final = frozenset({"Content-Type", "Content-Length"})


def _lighten_webhooks(app: Flask) -> None:
    """Webhooks skip the pages' per-request machinery, and keep Flask-Talisman's headers
    without its cost per request: what it sets on a webhook's response depends only on the
    endpoint (per-view options) and on whether the request came over HTTPS (HSTS), so it is
    computed on the first such response and copied after. Its before-request hooks (HTTPS
    redirect, CSP nonce) do nothing for webhooks unless one of them is configured, and then
    do not run for them. Flask-Login's after-request hook (the remember-me cookie) reads
    and writes the cookie session, which a webhook does not have: it runs for the others
    only. Call after every hook is registered."""
    from flask_login import LoginManager
    from flask_talisman import Talisman

    from service.api import check_content_type
    from service.api.auth import load_actor

    app.session_interface = _SessionInterface()
    before, after = app.before_request_funcs[None], app.after_request_funcs[None]
    owners = [getattr(f, "__self__", None) for f in after]
    talisman = next((o for o in owners if isinstance(o, Talisman)), None)
    if talisman is None:
        return
    talisman_headers: Callable[[Response], Response] = talisman._set_response_headers
    webhook_views = [v for e, v in app.view_functions.items() if e.startswith(f"{WEBHOOKS}.")]
    configured = (
        talisman.force_https
        or talisman.content_security_policy_nonce_in
        or any(hasattr(view, "talisman_view_options") for view in webhook_views)
    )
    # The API's hooks answer only under /api: a webhook need not call them either.
    skipped: list[Any] = [f for f in before if f in (load_actor, check_content_type)]
    if not configured:
        skipped += [f for f in before if getattr(f, "__self__", None) is talisman]
    _skip_for_webhooks(before, skipped)
    copies: dict[tuple[str | None, bool], list[tuple[str, str]]] = {}

    def webhook_headers(endpoint: str | None, environ: dict[str, Any]) -> list[tuple[str, str]]:
        # HTTPS as Talisman tells it: the request's scheme, or the proxy's forwarded one
        # (EnvironHeaders' own key for X-Forwarded-Proto)
        secure = (
            environ.get("wsgi.url_scheme") == "https"
            or environ.get("HTTP_X_FORWARDED_PROTO") == "https"
        )
        copied = copies.get((endpoint, secure))
        if copied is None:
            # Talisman reads the endpoint's view options and the scheme from the request
            # (flask_talisman/talisman.py, _set_response_headers); a copy is made once per
            # key, in a request of that endpoint, before any is used
            path = next(app.url_map.iter_rules(endpoint)).rule if endpoint else "/"
            base = "https://localhost" if secure else "http://localhost"
            with app.test_request_context(path, base_url=base, method="POST"):
                probe = talisman_headers(app.response_class())
            copied = [(k, v) for k, v in probe.headers.items() if k not in PROBE_HEADERS]
            copies[(endpoint, secure)] = copied
        return copied

    app.extensions[WEBHOOK_HEADERS] = None if configured else webhook_headers

    def set_headers(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.blueprint != WEBHOOKS:
            return talisman_headers(response)
        headers = response.headers
        for name, value in webhook_headers(req.endpoint, req.environ):
            headers[name] = value
        return response

    def pages_only(hook: Any) -> Callable[[Response], Response]:
        def run(response: Response) -> Response:
            return response if request.blueprint == WEBHOOKS else hook(response)

        return run

    after[:] = [
        set_headers
        if f == talisman_headers
        else pages_only(f)
        if isinstance(getattr(f, "__self__", None), LoginManager)
        else f
        for f in after
    ]


def _skip_for_webhooks(hooks: list[Any], skipped: list[Any]) -> None:
    """Replace *skipped* (before-request hooks registered one after another) in *hooks* by
    one hook that runs them, in their order, for every request but a webhook's (one hook
    called instead of four: Flask pays for each)."""
    if not skipped:
        return

    def pages_and_api() -> Any:
        if request.blueprint == WEBHOOKS:
            return None
        for hook in skipped:
            answer = hook()
            if answer is not None:
                return answer
        return None

    at = hooks.index(skipped[0])
    hooks[:] = [f for f in hooks if f not in skipped]
    hooks.insert(at, pages_and_api)


def _webhooks_past_socketio(app: Flask) -> None:
    """Webhooks go to Flask directly, or to the lane (webhooks/lane.py) before it.
    Flask-SocketIO's middleware answers only under its own path; for any other request it
    copies the environ and, under gunicorn, defines a class per request before calling the
    app it wraps (flask_socketio ``_SocketIOMiddleware`` and engineio/middleware.py
    ``WSGIApp.__call__``, which keeps that app as ``wsgi_app``)."""
    middleware = app.wsgi_app
    flask_app = getattr(middleware, "wsgi_app", None)
    if flask_app is None:  # pragma: no cover - a Flask-SocketIO that wraps differently
        return
    lane = _lane(app)

    def route(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(WEBHOOK_PATHS):
            if lane is not None:
                answer = lane(environ, start_response)
                if answer is not None:
                    return answer
            return flask_app(environ, start_response)
        return middleware(environ, start_response)

    app.wsgi_app = route  # type: ignore[method-assign]


def _lane(app: Flask) -> Lane | None:
    """The webhooks' lane, with what the app's hooks do for a webhook; None (Flask answers
    every webhook) when Talisman must run for them or the request metrics are off."""
    from service.api.metrics import COUNT_REQUEST
    from service.observability import begin, log_access
    from webhooks.lane import Bookkeeping, Lane, Route
    from webhooks.receivers import Receiver

    headers, count = app.extensions.get(WEBHOOK_HEADERS), app.extensions.get(COUNT_REQUEST)
    if headers is None or count is None:
        return None
    routes = {}
    for rule in app.url_map.iter_rules():
        found = getattr(app.view_functions[rule.endpoint], "receiver", None)
        if isinstance(found, Receiver):
            routes[rule.rule] = Route(found, rule.rule, rule.endpoint)
    books = Bookkeeping(begin, log_access, count, headers, app.extensions.get(SWEEP_START))
    return Lane(app, routes, books)


def create_app(config: Config | None = None, ports: Ports | None = None) -> Flask:
    """Build the app: config, database, migrations, ports, API, webhooks, logging, CLI.

    Tests pass fake *ports*; otherwise the real adapters are built from *config*.
    """
    from service.api import init_api, live
    from service.cli import register_cli
    from service.extensions import Cursor, check_pooled_connection, db, migrate
    from service.observability import configure_logging, init_request_logging
    from service.rocketchat_cli import rocketchat_cli
    from service.ui import init_ui
    from webhooks import receivers

    config = config or Config.from_env()
    app = Flask("service")
    instance = Path(app.instance_path)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)

    database_url = config.database_url or _embedded_database(instance)
    app.config.update(
        CARTERAS=config,
        SECRET_KEY=_secret_key(config, instance),
        TESTING=config.testing,
        MAX_CONTENT_LENGTH=config.max_content_length,
        SQLALCHEMY_DATABASE_URI=database_url,
        # Server databases: no pool_pre_ping (a round trip per request); a pooled connection
        # is checked at checkout without one (extensions.check_pooled_connection). psycopg's
        # cursors describe their results only when asked (extensions.Cursor).
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"cursor_factory": Cursor}}
        if not database_url.startswith("sqlite")
        else {"connect_args": {"timeout": 10}},
        API_TITLE="Carteras",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    configure_logging(config.log_level)
    db.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _sqlite_pragmas)
        event.listen(db.engine, "checkout", check_pooled_connection)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)

    # Registers itself as app.extensions["socketio"].
    socketio = SocketIO(app, message_queue=config.redis_url, async_mode="threading")
    live.register(app, socketio)
    app.extensions["ports"] = ports or build_ports(config, socketio, instance)
    _bind_in_process_jobs(app)
    init_request_logging(app)
    if not config.redis_url and not config.jobs_inline:
        _sweep_in_process(app)
    api = init_api(app)
    init_ui(app)
    app.register_blueprint(receivers.bp)
    from service.api import media as media_links  # GET /media/<token> (issue 17)

    app.register_blueprint(media_links.bp)
    _answer_unrouted_errors(app, api.handle_http_exception)
    _lighten_webhooks(app)
    _webhooks_past_socketio(app)
    register_cli(app)
    app.cli.add_command(rocketchat_cli)
    return app
