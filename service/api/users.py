"""Users and their tokens (admins): /api/users, /api/users/<id>/tokens."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from service.api import live
from service.api.auth import current_actor
from service.api.schemas import Id, PagingArgs, Text, page_of
from service.domain import profiles, tokens, users
from service.domain.actor import ROLES
from service.domain.pagination import Page
from service.extensions import db
from service.models import ApiToken, User

bp = Blueprint("users", __name__, url_prefix="/api", description="Users and API tokens")


class UserArgs(PagingArgs):
    q = fields.String(load_default=None, validate=Text)
    role = fields.String(load_default=None, validate=validate.OneOf(ROLES))
    active = fields.Boolean(load_default=None)


class UserIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    agent_id = Id(allow_none=True)
    active = fields.Boolean()
    # unset with no carteras: an admin or coordinator sees every cartera (a blank profile)
    all_carteras = fields.Boolean()
    cartera_ids = fields.List(Id(), validate=validate.Length(max=1000))
    password = fields.String(
        load_only=True, allow_none=True, validate=validate.Length(min=1, max=200)
    )


class UserPatch(UserIn):
    """Any subset of UserIn's fields."""


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String(allow_none=True)
    role = fields.String()
    agent_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    all_carteras = fields.Boolean()
    cartera_ids = fields.Function(lambda user: [c.id for c in user.carteras])
    carteras = fields.Function(
        lambda user: [{"id": c.id, "name": c.name, "icon": c.icon} for c in user.carteras]
    )
    has_password = fields.Function(lambda user: user.password_hash is not None)
    created_at = fields.DateTime()


UserPage = page_of(UserOut, "UserPage")


class TokenIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))


class TokenIssued(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "shown once; only its hash is kept"})


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Function(lambda token: token.revoked_at is None)


TokenPage = page_of(TokenOut, "TokenPage")


@bp.get("/users")
@bp.arguments(UserArgs, location="query", as_kwargs=True)
@bp.response(200, UserPage)
def list_users(
    q: str | None, role: str | None, active: bool | None, page: int, per_page: int
) -> Page[User]:
    """Users by name; ``q`` matches name or email."""
    filters = profiles.UserFilters(q=q, role=role, active=active)
    return profiles.list_users(db.session(), current_actor(), filters, page, per_page)


@bp.post("/users")
@bp.arguments(UserIn)
@bp.response(201, UserOut)
def create_user(data: dict[str, Any]) -> User:
    """Create a user; ``password`` is optional (an integration signs in with tokens)."""
    user = users.create_user(
        db.session(),
        current_actor(),
        email=data["email"],
        name=data["name"],
        role=data["role"],
        password=data.get("password"),
        agent_id=data.get("agent_id"),
        all_carteras=data.get("all_carteras"),
        cartera_ids=data.get("cartera_ids", ()),
    )
    if data.get("active") is False:
        users.set_active(db.session(), current_actor(), user.id, False)
    db.session.commit()
    return user


@bp.get("/users/<id:user_id>")
@bp.response(200, UserOut)
def get_user(user_id: int) -> User:
    return profiles.get_user(db.session(), current_actor(), user_id)


@bp.patch("/users/<id:user_id>")
@bp.arguments(UserPatch(partial=True))
@bp.response(200, UserOut)
def update_user(data: dict[str, Any], user_id: int) -> User:
    """Change a user; granting and revoking carteras apply at once (live rooms included)."""
    user = profiles.update_user(db.session(), current_actor(), user_id, data)
    db.session.commit()
    live.recheck_now()
    return user


@bp.delete("/users/<id:user_id>")
@bp.response(204)
def delete_user(user_id: int) -> None:
    profiles.delete_user(db.session(), current_actor(), user_id)
    db.session.commit()
    live.recheck_now()


@bp.post("/users/<id:user_id>/tokens")
@bp.arguments(TokenIn)
@bp.response(201, TokenIssued)
def issue_token(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """A new API token for the user, shown once."""
    issued = tokens.issue_user_token(db.session(), current_actor(), user_id, data["name"])
    db.session.commit()
    return {"id": issued.token.id, "token": issued.secret}


@bp.get("/users/<id:user_id>/tokens")
@bp.arguments(PagingArgs, location="query", as_kwargs=True)
@bp.response(200, TokenPage)
def list_tokens(user_id: int, page: int, per_page: int) -> dict[str, Any]:
    """The user's tokens (prefix only), revoked ones included."""
    rows = tokens.list_user_tokens(db.session(), current_actor(), user_id)
    start = (page - 1) * per_page
    return {
        "items": rows[start : start + per_page],
        "total": len(rows),
        "page": page,
        "per_page": per_page,
    }


@bp.delete("/users/<id:user_id>/tokens/<id:token_id>")
@bp.response(204)
def revoke_token(user_id: int, token_id: int) -> None:
    """Revoke a token: requests and live connections with it stop at once."""
    actor = current_actor()
    token: ApiToken = tokens.token_of(db.session(), actor, user_id, token_id)
    tokens.revoke_token(db.session(), actor, token.id)
    db.session.commit()
    live.recheck_now()
