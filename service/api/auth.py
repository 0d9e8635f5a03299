"""Bearer tokens -> the acting user, for every route under /api."""

from __future__ import annotations

from flask import g, request

from service.domain.actor import Actor
from service.domain.errors import Unauthenticated
from service.domain.tokens import authenticate
from service.extensions import db


def load_actor() -> None:
    """before_request hook: every /api request needs ``Authorization: Bearer <token>``."""
    if not request.path.startswith("/api/") and request.path != "/api":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "Send an API token as 'Authorization: Bearer <token>'. "
            "Create one with: flask --app wsgi tokens create --role ROLE --name NAME"
        )
    actor = authenticate(db.session(), token.strip())
    if actor is None:
        raise Unauthenticated("The API token is unknown or revoked, or its user is inactive.")
    g.actor = actor.with_request(g.get("request_id"))


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor
