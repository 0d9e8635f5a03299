"""Teams (Rocket.Chat departments) and agents (Rocket.Chat users), and who belongs where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.types import UTCDateTime, utcnow

agent_teams = Table(
    "agent_teams",
    Base.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # Case-folded name: uniqueness ignores case ("Ventas" == "ventas").
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    rocketchat_department_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    agents: Mapped[list[Agent]] = relationship(
        secondary=agent_teams, back_populates="teams", order_by="Agent.id"
    )


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    rocketchat_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    rocketchat_username: Mapped[str | None] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Open conversations routed to the agent beyond which its carteras go to the team.
    max_open_chats: Mapped[int | None] = mapped_column(Integer)
    # Rocket.Chat availability as last seen by the presence refresh (jobs/presence.py):
    # External Service routing names only agents seen available lately.
    rc_available: Mapped[bool | None] = mapped_column(Boolean)
    rc_presence_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    teams: Mapped[list[Team]] = relationship(
        secondary=agent_teams, back_populates="agents", order_by="Team.id"
    )
