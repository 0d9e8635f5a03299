"""The REST API edge: blueprints, bearer-token auth, content-type rules, JSON errors.

Handlers parse, call the domain, commit once, and answer; they never reach adapters.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter, Map

from service.api.auth import load_actor
from service.api.errors import JsonErrorApi, register_error_handlers

MAX_ID = 2**31 - 1  # INTEGER keys (teams, agents, carteras, contacts, users, tokens)
MAX_BIG_ID = 2**63 - 1  # BIGINT keys (conversations, inbox, audit)


class IdConverter(IntegerConverter):
    """``<id:name>``: a positive row id; anything larger cannot exist (404), and never
    reaches the database as an out-of-range value."""

    maximum = MAX_ID

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=self.maximum)


class BigIdConverter(IdConverter):
    maximum = MAX_BIG_ID


# Media type each body-carrying endpoint accepts; any other JSON body endpoint wants JSON.
BODY_TYPES = {"contacts.import_contacts": "text/csv"}


def check_content_type() -> None:
    """before_request: a POST/PATCH/PUT body must be of the media type the endpoint reads."""
    if request.method not in ("POST", "PATCH", "PUT") or not request.path.startswith("/api/"):
        return
    has_body = bool(request.content_length) or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    )
    if not has_body:
        return
    expected = BODY_TYPES.get(request.endpoint or "", "application/json")
    if request.mimetype != expected:
        raise UnsupportedMediaType(
            f"Send the body as {expected} (got {request.mimetype or 'no Content-Type'})."
        )


def _id_schema(converter: object) -> dict[str, object]:
    maximum = getattr(converter, "maximum", MAX_ID)
    return {
        "type": "integer",
        "format": "int32" if maximum == MAX_ID else "int64",
        "minimum": 1,
        "maximum": maximum,
    }


def init_api(app: Flask) -> JsonErrorApi:
    from service.api import (
        audit,
        carteras,
        contacts,
        conversations,
        health,
        inbox,
        org,
        regions,
        rocketchat,
        routing,
        users,
    )

    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    api = JsonErrorApi(
        app,
        spec_kwargs={
            "info": {
                "description": "Carteras: customer portfolios, their owners and contacts, "
                "with an append-only audit log. Everything under /api needs "
                "'Authorization: Bearer <token>'."
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for converter in (IdConverter, BigIdConverter):
        api.register_converter(converter, _id_schema)
    for module in (
        health,
        org,
        regions,
        carteras,
        contacts,
        audit,
        inbox,
        conversations,
        routing,
        rocketchat,
        users,
    ):
        api.register_blueprint(module.bp)
    from service.api.metrics import init_metrics

    init_metrics(app)
    app.before_request(load_actor)
    app.before_request(check_content_type)
    register_error_handlers(app)
    return api
