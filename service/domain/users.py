"""People who sign in to the web pages: create them, check their password, end their
sessions; and the one rule of who may act at all (``actor_for``), used by every edge.

Passwords are hashed with scrypt (hashlib, a standard memory-hard KDF) and a random salt;
the plain text is never kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from service.domain import audit
from service.domain.access import require_admin
from service.domain.actor import ROLES, Actor
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.identity import BadAddress, normalize_email
from service.domain.names import clean_name
from service.domain.org import get_agent
from service.models import Cartera, User, user_carteras

MIN_PASSWORD = 10
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded = [base64.b64encode(x).decode() for x in (salt, digest)]
    return f"scrypt${_N}${_R}${_P}${encoded[0]}${encoded[1]}"


def password_matches(stored: str, password: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(computed, base64.b64decode(digest))


def check_role(session: Session, role: str, agent_id: int | None) -> None:
    """A known role; an agent (user or token) is tied to an existing agent, others to none.

    :raise Invalid: naming the field.
    """
    if role not in ROLES:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}", "user.role")
    if role != "agent":
        if agent_id is not None:
            raise Invalid.field(
                "agent_id", "only the agent role is tied to an agent", "user.agent_for_role"
            )
        return
    if agent_id is None:
        raise Invalid.field("agent_id", "the agent role needs --agent-id", "user.agent_required")
    try:
        get_agent(session, agent_id)
    except NotFound:
        raise Invalid.field("agent_id", f"no such agent: {agent_id}", "agent.not_found") from None


def create_user(
    session: Session,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    password: str | None,
    agent_id: int | None = None,
    all_carteras: bool | None = None,
    cartera_ids: Iterable[int] = (),
) -> User:
    """A new user; with no carteras named and *all_carteras* unset, an admin or coordinator
    gets every cartera (the manuals' blank profile) and an agent its own ones.

    :raise Invalid: bad email, role, short password, agent role without an agent, unknown
        carteras.
    :raise Conflict: the email is taken."""
    require_admin(actor)
    try:
        address = normalize_email(email)
    except BadAddress as exc:
        raise Invalid.field("email", str(exc), exc.rule, **exc.params) from None
    check_role(session, role, agent_id)
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid.field(
            "password",
            f"must have at least {MIN_PASSWORD} characters",
            "user.password_short",
            min=MIN_PASSWORD,
        )
    if session.scalar(select(User.id).where(func.lower(User.email) == address)) is not None:
        raise Conflict(
            f"A user with email {address} already exists.",
            {"field": "email"},
            rule="user.email_taken",
            email=address,
        )
    user = User(
        email=address,
        name=clean_name(name),
        role=role,
        agent_id=agent_id,
        active=True,
        # None: an integration that only uses API tokens
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    grant(user, all_carteras, _carteras(session, cartera_ids))
    audit.record(
        session,
        actor,
        "created",
        "user",
        user.id,
        user.name,
        after={"email": address, "role": role, "agent_id": agent_id, **access_of(user)},
    )
    return user


def _carteras(session: Session, cartera_ids: Iterable[int]) -> list[Cartera]:
    """:raise Invalid: some ids name no cartera."""
    wanted = sorted(set(cartera_ids))
    found = list(session.scalars(select(Cartera).where(Cartera.id.in_(wanted)))) if wanted else []
    missing = sorted(set(wanted) - {c.id for c in found})
    if missing:
        raise Invalid.field("cartera_ids", f"no such carteras: {missing}", "cartera.not_found")
    return found


def grant(user: User, all_carteras: bool | None, carteras: list[Cartera]) -> None:
    """Set what *user* may see; None keeps ``all_carteras`` as the role's default."""
    if all_carteras is None:
        all_carteras = user.role != "agent" and not carteras
    user.all_carteras = all_carteras
    user.carteras = sorted(carteras, key=lambda c: (c.name_key, c.id))


def access_of(user: User) -> dict[str, Any]:
    """What *user* may see, as the audit log records it (ids and names)."""
    return {
        "all_carteras": bool(user.all_carteras),
        "carteras": [{"id": c.id, "name": c.name} for c in user.carteras],
    }


def set_access(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    all_carteras: bool | None = None,
    cartera_ids: Iterable[int] | None = None,
) -> User:
    """Grant or revoke carteras (None leaves that part as it is); audited on the user with
    the carteras before and after. It applies at the user's next request.

    :raise Forbidden: the actor is not an admin.
    :raise NotFound: no such user. :raise Invalid: unknown carteras.
    """
    require_admin(actor)
    user = get_user(session, user_id)
    before = access_of(user)
    carteras = list(user.carteras) if cartera_ids is None else _carteras(session, cartera_ids)
    user.all_carteras = before["all_carteras"] if all_carteras is None else all_carteras
    user.carteras = sorted(carteras, key=lambda c: (c.name_key, c.id))
    session.flush()
    after = access_of(user)
    if after != before:
        audit.record(
            session,
            actor,
            "updated",
            "user",
            user.id,
            user.name,
            before=before,
            after=after,
            details={
                "granted": sorted({c["id"] for c in after["carteras"]} - _ids(before)),
                "revoked": sorted(_ids(before) - {c["id"] for c in after["carteras"]}),
            },
        )
    return user


def _ids(access: dict[str, Any]) -> set[int]:
    return {c["id"] for c in access["carteras"]}


def _sign_in_address(email: str) -> str:
    try:
        return normalize_email(email)
    except BadAddress:
        return email.strip().lower()


def email_fingerprint(email: str) -> str:
    """A short hash naming a sign-in email in logs and throttling keys, never the address."""
    return hashlib.sha256(_sign_in_address(email).encode()).hexdigest()[:16]


def check_password(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, else None (same work either way)."""
    address = _sign_in_address(email)
    user = session.scalar(select(User).where(func.lower(User.email) == address))
    stored = user.password_hash if user is not None and user.active else None
    # Hash even for unknown users so the answer time does not reveal who exists.
    ok = password_matches(stored or _DUMMY, password)
    return user if ok and stored else None


def actor_for(user: User | None, request_id: str | None = None) -> Actor | None:
    """Who *user* acts as, or None when it may not act at all: the user is missing or
    inactive, or it is an agent's user and that agent is missing or inactive.

    The one access rule of every edge (API tokens, signed-in pages, exports, live
    connections), checked on every request, so a deactivation takes effect at once.
    """
    if user is None or not user.active:
        return None
    if user.agent_id is not None and (user.agent is None or not user.agent.active):
        return None
    role = next(r for r in ROLES if r == user.role)
    return Actor(
        user_id=user.id,
        name=user.name,
        role=role,
        agent_id=user.agent_id,
        request_id=request_id,
        all_carteras=bool(user.all_carteras),
        cartera_ids=frozenset() if role == "admin" or user.all_carteras else granted_ids(user),
    )


def granted_ids(user: User) -> frozenset[int]:
    """The ids of the carteras granted to *user* (read on every request: grants apply at once)."""
    session = object_session(user)
    if session is None:
        return frozenset(c.id for c in user.carteras)
    return frozenset(
        session.scalars(
            select(user_carteras.c.cartera_id).where(user_carteras.c.user_id == user.id)
        )
    )


def session_actor(
    session: Session, user_id: int, session_version: int, request_id: str | None = None
) -> Actor | None:
    """The actor of a signed-in session made at *session_version*, or None when the session
    was ended since (sign-out, password change, deactivation) or the user may not act."""
    user = session.get(User, user_id)
    if user is None or user.session_version != session_version:
        return None
    return actor_for(user, request_id)


def end_sessions(user: User) -> None:
    """End every session of *user*: their ids carry the old version and stop matching."""
    user.session_version = (user.session_version or 0) + 1


def sign_out(session: Session, user_id: int) -> None:
    """Signing out ends all of the user's sessions, on every device."""
    user = session.get(User, user_id)
    if user is not None:
        end_sessions(user)
        session.flush()


def get_user(session: Session, user_id: int) -> User:
    """:raise NotFound: no such user."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(
            f"User {user_id} does not exist.", {"user_id": user_id}, rule="user.not_found"
        )
    return user


def find_user(session: Session, email: str) -> User:
    """:raise NotFound: no user signs in with this email."""
    address = _sign_in_address(email)
    user = session.scalar(select(User).where(func.lower(User.email) == address))
    if user is None:
        raise NotFound(f"No user has the email {address}.", {"email": address})
    return user


def set_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    """Give *user_id* a new password and end its sessions.

    :raise Forbidden: the actor is not an admin.
    :raise NotFound: no such user.
    :raise Invalid: the password is too short.
    """
    require_admin(actor)
    user = get_user(session, user_id)
    if len(password) < MIN_PASSWORD:
        raise Invalid.field(
            "password",
            f"must have at least {MIN_PASSWORD} characters",
            "user.password_short",
            min=MIN_PASSWORD,
        )
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.flush()
    audit.record(
        session, actor, "updated", "user", user.id, user.name, after={"password": "changed"}
    )
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Activate or deactivate a user; deactivating ends its sessions (and its tokens stop).

    :raise Forbidden: the actor is not an admin.
    :raise NotFound: no such user.
    """
    require_admin(actor)
    user = get_user(session, user_id)
    if user.active == active:
        return user
    user.active = active
    end_sessions(user)
    session.flush()
    audit.record(
        session,
        actor,
        "activated" if active else "deactivated",
        "user",
        user.id,
        user.name,
        before={"active": not active},
        after={"active": active},
    )
    return user


_DUMMY = hash_password("carteras-timing-equalizer")
