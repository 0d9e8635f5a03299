"""Users as admins manage them ("Usuarios > Perfiles"): list, change, delete; who each may
see is ``users.set_access``. Must not import flask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from service.domain import audit, users
from service.domain.access import require_admin
from service.domain.actor import Actor
from service.domain.errors import Conflict, Invalid
from service.domain.identity import BadAddress, normalize_email
from service.domain.names import clean_name
from service.domain.pagination import Page, paginate
from service.models import User


@dataclass(frozen=True)
class UserFilters:
    q: str | None = None
    role: str | None = None
    active: bool | None = None


def list_users(
    session: Session, actor: Actor, filters: UserFilters, page: int, per_page: int
) -> Page[User]:
    """Users by name; ``q`` matches name or email.

    :raise Forbidden: the actor is not an admin."""
    require_admin(actor)
    stmt = select(User)
    if filters.q and filters.q.strip():
        text = filters.q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(User.name).contains(text, autoescape=True),
                func.lower(User.email).contains(text, autoescape=True),
            )
        )
    if filters.role:
        stmt = stmt.where(User.role == filters.role)
    if filters.active is not None:
        stmt = stmt.where(User.active.is_(filters.active))
    return paginate(session, stmt.order_by(func.lower(User.name), User.id), page, per_page)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    """:raise Forbidden: not an admin. :raise NotFound: no such user."""
    require_admin(actor)
    return users.get_user(session, user_id)


def _snapshot(user: User) -> dict[str, Any]:
    return {"name": user.name, "email": user.email, "role": user.role, "agent_id": user.agent_id}


def _email(session: Session, user: User, raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        address = normalize_email(raw)
    except BadAddress as exc:
        raise Invalid.field("email", str(exc), exc.rule, **exc.params) from None
    taken = session.scalar(select(User.id).where(func.lower(User.email) == address))
    if taken is not None and taken != user.id:
        raise Conflict(
            f"A user with email {address} already exists.",
            {"field": "email"},
            rule="user.email_taken",
            email=address,
        )
    return address


def update_user(session: Session, actor: Actor, user_id: int, data: Mapping[str, Any]) -> User:
    """Change a user's fields; ``password``, ``active`` and access (``all_carteras``,
    ``cartera_ids``) each go through their own audited rule.

    :raise Forbidden: not an admin, or an admin deactivating or demoting itself.
    :raise NotFound: no such user. :raise Invalid, Conflict: as for ``users.create_user``.
    """
    user = get_user(session, actor, user_id)
    if user.id == actor.user_id and (
        data.get("active") is False or data.get("role", "admin") != "admin"
    ):
        raise Invalid.field(
            "role", "an admin cannot deactivate or demote itself", "user.self_lockout"
        )
    before = _snapshot(user)
    with session.no_autoflush:
        if "name" in data:
            user.name = clean_name(data["name"])
        if "email" in data:
            user.email = _email(session, user, data["email"])
        role = data.get("role", user.role)
        agent_id = data.get("agent_id", user.agent_id)
        if role != "agent" and "agent_id" not in data:
            agent_id = None
        users.check_role(session, role, agent_id)
        user.role, user.agent_id = role, agent_id
    session.flush()
    audit.record_changes(session, actor, "user", user.id, user.name, before, _snapshot(user))
    if "all_carteras" in data or "cartera_ids" in data:
        users.set_access(
            session,
            actor,
            user.id,
            all_carteras=data.get("all_carteras"),
            cartera_ids=data.get("cartera_ids"),
        )
    if data.get("password"):
        users.set_password(session, actor, user.id, data["password"])
    if "active" in data:
        users.set_active(session, actor, user.id, bool(data["active"]))
    return user


def delete_user(session: Session, actor: Actor, user_id: int) -> None:
    """Delete a user and its tokens; the audit keeps who it was.

    :raise Invalid: an admin deleting itself.
    """
    user = get_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise Invalid.field("user_id", "an admin cannot delete itself", "user.self_delete")
    before = {**_snapshot(user), **users.access_of(user)}
    session.delete(user)
    session.flush()
    audit.record(session, actor, "deleted", "user", user_id, before["name"], before=before)
