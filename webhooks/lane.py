"""The webhooks' lane: a platform's POST answered without Flask's request machinery.

A webhook's own work (signature, body, one durable insert) is a fraction of what Flask
spends around it per request: the request context, URL matching, the before- and
after-request hooks, the response object (docs/PERFORMANCE.md measures both). The lane
runs the same receiver (``receivers.Receiver.handle``) in an app context, and does itself
what those hooks do for a webhook: the request id, the access line, the request metrics,
the security headers (``Bookkeeping``). service/app.py builds it, only for the hooks it
knows (tests/webhooks/test_lane.py fails when one is added).

Whatever is not the usual case goes to Flask, which answers as it always has:
- before the receiver runs (another method, path or media type, no or too long a
  ``Content-Length``, a body cut short): the request as it came, its body readable again;
- when the receiver raises (a bad signature, a malformed body, the database down): the
  error itself, which the view raises again (``receivers.Unfinished``), so the request is
  not run twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, g
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import parse_options_header
from werkzeug.wsgi import get_current_url

from webhooks.inbound import InboundRequest
from webhooks.receivers import UNFINISHED, Receiver, Unfinished

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    """A receiver at its rule, with the endpoint its security headers are copied for."""

    receiver: Receiver
    rule: str
    endpoint: str


@dataclass(frozen=True)
class Bookkeeping:
    """What Flask's hooks do for a webhook, as plain calls (service/app.py passes them)."""

    begin: Callable[[Any, dict[str, Any]], None]  # observability.begin
    log_access: Callable[[Any, str, str | None, int], None]  # observability.log_access
    count: Callable[[str, str | None, int, float | None], None]  # the request metrics
    # Talisman's headers for an endpoint, by the request's scheme (service/app.py)
    headers: Callable[[str, dict[str, Any]], list[tuple[str, str]]]
    first_request: Callable[[], None] | None = None  # the embedded sweep's start


class Lane:
    """WSGI: answers a webhook's usual POST, or returns None for Flask to answer it."""

    def __init__(self, app: Flask, routes: dict[str, Route], books: Bookkeeping) -> None:
        self.app, self.routes, self.books = app, routes, books

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes] | None:
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return None
        content_type = environ.get("CONTENT_TYPE", "")
        receiver = route.receiver
        # werkzeug's Request.mimetype (sansio/request.py: parse_options_header, lowered)
        if parse_options_header(content_type)[0].lower() not in receiver.media_types:
            return None  # Flask answers 415
        length = environ.get("CONTENT_LENGTH", "")
        limit = self.app.config["MAX_CONTENT_LENGTH"]  # read per request, as Flask does
        if not length.isdigit() or (limit is not None and int(length) > limit):
            return None  # chunked, or Flask answers 413
        raw = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(raw)  # for Flask, if it answers after all
        if len(raw) != int(length):
            return None  # the client went away: Flask answers 400
        books = self.books
        if books.first_request is not None:
            books.first_request()
        with self.app.app_context():
            state = g._get_current_object()
            books.begin(state, environ)
            try:
                inbound = InboundRequest(  # as receivers._inbound reads it from Flask
                    url=get_current_url(environ) if receiver.signs_url else "",
                    headers=dict(EnvironHeaders(environ).items()),
                    raw=raw,
                    content_type=content_type,
                )
                answer = receiver.handle(lambda: inbound)
            except Exception as error:
                environ[UNFINISHED] = Unfinished(error, dict(state.get("access_details") or {}))
                return None
            body = self._json(answer)
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *books.headers(route.endpoint, environ),
                ("X-Request-ID", state.request_id),
            ]
            books.count("POST", route.rule, 200, state.started)
            books.log_access(state, "POST", route.rule, 200)
        start_response("200 OK", headers)
        return [body]

    def _json(self, answer: dict[str, Any]) -> bytes:
        """*answer* as ``jsonify`` writes it: compact out of debug mode, indented in it, a
        line break after (flask/json/provider.py, DefaultJSONProvider.response)."""
        provider, app = self.app.json, self.app
        compact = getattr(provider, "compact", None)
        if (compact is None and app.debug) or compact is False:
            text = provider.dumps(answer, indent=2)
        else:
            text = provider.dumps(answer, separators=(",", ":"))
        return f"{text}\n".encode()
