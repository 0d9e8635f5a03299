"""API users and bearer tokens: issue (shown once), verify (by SHA-256), revoke."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import audit
from service.domain.access import require_admin
from service.domain.actor import Actor
from service.domain.errors import Invalid, NotFound
from service.domain.names import clean_name
from service.domain.org import get_agent
from service.domain.users import actor_for, check_role, end_sessions, get_user, grant
from service.models import ApiToken, User
from service.models.types import utcnow

PREFIX = "crt_"


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


def issue_token(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: str,
    agent_id: int | None = None,
    all_carteras: bool | None = None,
) -> IssuedToken:
    """Create an API user named *name* with *role* and one token for it (all carteras for an
    admin or coordinator unless *all_carteras* says otherwise; see ``users.grant``).

    :raise Invalid: unknown role; an agent token without an existing, active agent.
    :raise Forbidden: the actor is not an admin.
    """
    require_admin(actor)
    name = clean_name(name)
    check_role(session, role, agent_id)
    if agent_id is not None and not get_agent(session, agent_id).active:
        raise Invalid.field("agent_id", f"the agent {agent_id} is inactive", "agent.inactive")
    user = User(name=name, role=role, agent_id=agent_id, active=True)
    grant(user, all_carteras, [])
    session.add(user)
    return _issue(session, actor, user, name, {"agent_id": agent_id})


def _issue(
    session: Session, actor: Actor, user: User, name: str, extra: dict[str, object]
) -> IssuedToken:
    """One new token for *user*, its secret shown once, audited."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_hash=hash_token(secret), prefix=secret[:10])
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "created",
        "token",
        token.id,
        name,
        after={"role": user.role, **extra, "prefix": token.prefix, "user_id": user.id},
    )
    return IssuedToken(token=token, secret=secret)


def authenticate(session: Session, raw: str) -> Actor | None:
    """The actor behind a bearer token, or None when it is unknown, revoked, or its user may
    not act (``users.actor_for``: inactive user, inactive or missing agent)."""
    if not raw.startswith(PREFIX):
        return None
    return token_actor(session, hash_token(raw))


def token_actor(session: Session, token_hash: str) -> Actor | None:
    """``authenticate`` by the token's hash: live connections re-check with it, so the
    token itself is not kept in memory."""
    row = session.execute(
        select(ApiToken, User)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == token_hash)
    ).first()
    if row is None or row[0].revoked_at is not None:
        return None
    return actor_for(row[1])


def issue_user_token(session: Session, actor: Actor, user_id: int, name: str) -> IssuedToken:
    """A new token for an existing user (shown once), acting as that user.

    :raise Forbidden: not an admin. :raise NotFound: no such user.
    """
    require_admin(actor)
    user = get_user(session, user_id)
    return _issue(session, actor, user, clean_name(name), {})


def list_user_tokens(session: Session, actor: Actor, user_id: int) -> list[ApiToken]:
    """:raise Forbidden: not an admin. :raise NotFound: no such user."""
    require_admin(actor)
    get_user(session, user_id)
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    )


def token_of(session: Session, actor: Actor, user_id: int, token_id: int) -> ApiToken:
    """:raise NotFound: no such token for that user."""
    require_admin(actor)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(
            f"Token {token_id} of user {user_id} does not exist.",
            {"token_id": token_id, "user_id": user_id},
            rule="token.not_found",
        )
    return token


def list_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    require_admin(actor)
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """:raise NotFound: no such token."""
    require_admin(actor)
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(
            f"Token {token_id} does not exist.", {"token_id": token_id}, rule="token.not_found"
        )
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        end_sessions(token.user)
        session.flush()
        audit.record(
            session,
            actor,
            "deleted",
            "token",
            token.id,
            token.name,
            before={"prefix": token.prefix, "revoked": False},
            after={"revoked": True},
        )
    return token
