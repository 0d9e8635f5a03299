"""Replies sent back to customers on the channel their conversation came from: one row per
Rocket.Chat message id, so a redelivered agent message is never sent twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import Base
from service.models.types import BigId, UTCDateTime, utcnow


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("rc_message_id", name="uq_outbound_messages_rc_message_id"),
        Index("ix_outbound_messages_status", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    rc_message_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    agent_name: Mapped[str | None] = mapped_column(String(120))
    # pending -> sending -> sent | failed (kept with its error, replayable)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # why it failed, as a stable code (window_closed, media_type, media_too_large, ...)
    error_code: Mapped[str | None] = mapped_column(String(32))
    # the agent's file: its Rocket.Chat path, name and type; size and sha256 once fetched
    # (the bytes pass through a temporary file, never the database)
    media_ref: Mapped[str | None] = mapped_column(String(1000))
    media_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(127))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    # the signed link of this send attempt was fetched (a link serves its file once)
    media_served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # a WhatsApp template sent instead of a refused free-form reply (replaces_id)
    template_name: Mapped[str | None] = mapped_column(String(512))
    template_language: Mapped[str | None] = mapped_column(String(16))
    template_params: Mapped[list[Any] | None] = mapped_column(JSON)
    replaces_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
