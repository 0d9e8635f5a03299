"""Conversations: one per contact and channel thread while open, with the routing decision
and a snapshot of the cartera, team and agent it was routed with (history never changes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import Base
from service.models.contact import Contact
from service.models.types import BigId, UTCDateTime, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # At most one open conversation per contact and thread.
        Index(
            "uq_conversations_open_thread",
            "contact_id",
            "channel",
            "thread_key",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_conversations_rc_room_id", "rc_room_id"),
        Index("ix_conversations_opened_at", "opened_at"),
        Index("ix_conversations_agent_id", "agent_id"),
        Index("ix_conversations_served_by_agent_id", "served_by_agent_id"),
        Index("ix_conversations_cartera_id", "cartera_id"),
        Index("ix_conversations_contact_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    thread_key: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    # What it was routed with, kept as it was (domain rule 6).
    cartera_id: Mapped[int | None] = mapped_column(ForeignKey("carteras.id", ondelete="SET NULL"))
    cartera_name: Mapped[str | None] = mapped_column(String(120))
    cartera_icon: Mapped[str | None] = mapped_column(String(32))
    cartera_color: Mapped[str | None] = mapped_column(String(7))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    team_name: Mapped[str | None] = mapped_column(String(120))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_name: Mapped[str | None] = mapped_column(String(120))
    routed_to: Mapped[str] = mapped_column(String(8))  # agent | team | queue
    department_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(40))
    trace: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Rocket.Chat state, each step recorded so that retries never repeat it.
    rc_visitor_token: Mapped[str | None] = mapped_column(String(64))
    rc_visitor_id: Mapped[str | None] = mapped_column(String(64))
    rc_room_id: Mapped[str | None] = mapped_column(String(64))
    rc_tagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    forwarded_to: Mapped[str | None] = mapped_column(String(80))
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The agent who answered (took) it, which may differ from agent_id: a team fallback or a
    # transfer taken by a colleague. That agent sees the contact while it is open (issue 12).
    served_by_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    fallback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact | None] = relationship(lazy="joined")
