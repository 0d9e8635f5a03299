"""Users (people and integrations) and their API tokens, stored hashed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.cartera import Cartera
from service.models.org import Agent
from service.models.types import UTCDateTime, utcnow

# The carteras granted to a user ("Usuarios > Perfiles"): see domain/access.py.
user_carteras = Table(
    "user_carteras",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "cartera_id", ForeignKey("carteras.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'coordinator', 'agent')", name="known_role"),
        CheckConstraint("role <> 'agent' OR agent_id IS NOT NULL", name="agent_has_agent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Every cartera ("left blank = all" in the manuals); else only the granted ones.
    all_carteras: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # werkzeug's scrypt hash; None for API-only users (they sign in with tokens).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Part of every signed-in session's id: bumping it ends all of the user's sessions
    # (sign-out, password change, deactivation, token revocation).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agent: Mapped[Agent | None] = relationship()
    carteras: Mapped[list[Cartera]] = relationship(
        secondary=user_carteras, order_by="Cartera.name_key"
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")
