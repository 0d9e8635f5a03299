"""Structured JSON logs: a request id on every request and one access line per request.

The request id is always made here: a client's own X-Request-ID is kept apart (logged as
``client_request_id`` when it has a safe shape), so a caller can never choose the id that
the audit log and our logs carry. No personal data at INFO: the access line carries method,
route, status, timing and ids.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

access_log = logging.getLogger("carteras.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id (when there is one) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            from flask import has_app_context

            # ``g`` is the app context's: a webhook answered by the lane has no request
            # context, only an app context (webhooks/lane.py)
            record.request_id = g.get("request_id") if has_app_context() else None
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_carteras", False) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(RequestIdFilter())
    handler._carteras = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def access_details(**fields: object) -> None:
    """Fields for this request's access line (a webhook's counts): one line per request,
    not a line of the handler's own beside it. No personal data here either."""
    details = g.get("access_details")
    if details is None:
        g.access_details = fields
    else:
        details.update(fields)


def request_started() -> float | None:
    """When this request began (``time.perf_counter``), for its access line and its metrics;
    None before the first before-request hook ran."""
    started: float | None = g.get("started")
    return started


def begin(state: Any, environ: dict[str, Any]) -> None:
    """Start a request's bookkeeping in *state* (its ``g``): when it began, its request id,
    the client's own id when it has a safe shape. Flask's first before-request hook calls
    it, and so does the webhooks' lane (webhooks/lane.py)."""
    state.started = time.perf_counter()
    state.request_id = uuid.uuid4().hex
    # the header where werkzeug reads it (datastructures/headers.py, EnvironHeaders._get_key)
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    state.client_request_id = incoming if _SAFE_ID.fullmatch(incoming) else None


def log_access(state: Any, method: str, route: str | None, status: int) -> None:
    """The request's one access line, from what ``begin`` and the handler left in *state*."""
    if not access_log.isEnabledFor(logging.INFO):
        return  # nothing to build
    started = state.get("started")
    actor = state.get("actor")
    extra = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        "user_id": actor.user_id if actor else None,
        "request_id": state.get("request_id"),
        "client_request_id": state.get("client_request_id"),
    }
    details = state.get("access_details")
    if details:
        extra.update(details)
    access_log.info("request", extra=extra)


def init_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        begin(g._get_current_object(), request.environ)

    @app.after_request
    def _finish(response: Response) -> Response:
        state = g._get_current_object()
        request_id = state.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        rule = request.url_rule
        log_access(state, request.method, rule.rule if rule else None, response.status_code)
        return response
