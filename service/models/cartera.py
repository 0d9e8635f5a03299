"""Carteras: customer portfolios owned by a team, an agent, or both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.org import Agent, Team
from service.models.region import Region
from service.models.types import UTCDateTime, utcnow


class Cartera(Base):
    __tablename__ = "carteras"
    __table_args__ = (
        # Domain rule 1: owned by a team, an agent, or both; never by nobody.
        CheckConstraint("team_id IS NOT NULL OR agent_id IS NOT NULL", name="has_owner"),
        Index("ix_carteras_active_team", "active", "team_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    icon: Mapped[str] = mapped_column(String(32))
    color: Mapped[str | None] = mapped_column(String(7))
    # The region its contacts take unless they have their own (issue 12).
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    # Folded (case- and accent-free) text the list search matches; see domain.names.fold.
    search_key: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Seconds the owner has to take a conversation before it goes to the team (0 = no wait).
    owner_timeout_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # {"timezone": ..., "weekly": {"mon": [["09:00", "18:00"]], ...}}; None = always open.
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    team: Mapped[Team | None] = relationship(lazy="joined")
    agent: Mapped[Agent | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")
