"""One JSON error body for every failure: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from flask_smorest import Api
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from service.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Unauthenticated,
)
from service.extensions import db

log = logging.getLogger(__name__)

STATUS = {Invalid: 422, NotFound: 404, Conflict: 409, Forbidden: 403, Unauthenticated: 401}
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable machine-readable code"})
    rule = fields.String(
        metadata={"description": "the rule broken, stable (e.g. cartera.name_taken), if any"}
    )
    params = fields.Dict(metadata={"description": "the rule's values (e.g. the name)"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, **extra: Any
) -> Response:
    body = {"code": code, "message": message, "details": details or {}, **extra}
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _field_errors(messages: Any) -> dict[str, Any]:
    # webargs nests errors by location ({"json": {...}, "query": {...}}); flatten that level.
    if isinstance(messages, dict) and set(messages) <= {
        "json",
        "query",
        "form",
        "files",
        "view_args",
        "headers",
    }:
        merged: dict[str, Any] = {}
        for part in messages.values():
            merged.update(part if isinstance(part, dict) else {"_schema": part})
        return merged
    return messages if isinstance(messages, dict) else {"_schema": messages}


class JsonErrorApi(Api):  # type: ignore[misc]
    """flask-smorest Api whose HTTP errors use our error body."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        details: dict[str, Any] = {}
        message = data.get("message") or error.description or error.name
        if "messages" in data or "errors" in data:
            details["fields"] = _field_errors(data.get("errors", data.get("messages")))
            if status == 422:
                message = "The request has invalid fields."
            elif status == 400:
                message = "The request body is not valid JSON."
        if status == 500:
            log.error("unhandled error", exc_info=error.__cause__ or error.__context__)
            message = "Internal error; the request id identifies it in the logs."
        response = error_response(status, HTTP_CODES.get(status, "error"), message, details)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        db.session.rollback()
        status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 400)
        rule: dict[str, Any] = {}
        if error.rule != error.code:  # the rule broken, for integrators that branch on it
            rule["rule"] = error.rule
            if error.params:
                rule["params"] = error.params
        return error_response(status, error.code, error.message, error.details, **rule)

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        # The database's constraints are the last guard (a race between two requests).
        db.session.rollback()
        log.info("integrity conflict", extra={"constraint_error": type(error.orig).__name__})
        return error_response(
            409, "conflict", "The change conflicts with data saved meanwhile; reload and retry."
        )

    @app.errorhandler(DataError)
    def _data(error: DataError) -> Response:
        # The last guard: a value the schemas let through but the column cannot hold.
        db.session.rollback()
        return error_response(422, "validation_error", "A value is out of range.")

    @app.errorhandler(OperationalError)
    def _operational(error: OperationalError) -> Response:
        db.session.rollback()
        log.error("database unavailable", exc_info=error)
        response = error_response(503, "unavailable", "The database is busy or unreachable; retry.")
        response.headers["Retry-After"] = "1"
        return response
