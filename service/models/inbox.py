"""The durable intake: one row per inbound message (unique per provider message id), and
delivery receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import Base
from service.models.types import BigId, UTCDateTime, utcnow

# pending: stored, waiting for a worker (the sweeper re-enqueues it if it waits too long);
# queued: a try failed and the queue will retry it; waiting: Rocket.Chat asked to wait (its
# rate limit, or no agent online) until ``not_before``, without using up the retries;
# processing: a job owns it;
# processed / failed: done; ignored: stored for the record, nothing to do (echoes);
# skipped: failed and given up on by a person, so the conversation's next messages go on.
# waiting with no not_before: deferred behind an earlier message of its thread (ordering.py).
INBOX_STATUSES = (
    "pending",
    "queued",
    "waiting",
    "processing",
    "processed",
    "failed",
    "ignored",
    "skipped",
)


class InboxMessage(Base):
    __tablename__ = "inbox_messages"
    __table_args__ = (
        UniqueConstraint("provider", "external_id", name="uq_inbox_messages_provider_external_id"),
        Index("ix_inbox_messages_status_updated_at", "status", "updated_at"),
        Index("ix_inbox_messages_received_at", "received_at"),
        Index("ix_inbox_messages_thread", "channel", "thread_key", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(40))
    sender_kind: Mapped[str | None] = mapped_column(String(16))
    sender_value: Mapped[str | None] = mapped_column(String(320))
    sender_raw: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str | None] = mapped_column(String(200))
    other_identities: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    recipient: Mapped[str | None] = mapped_column(String(320))
    thread_key: Mapped[str | None] = mapped_column(String(320))
    text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    # The id this message was posted under in Rocket.Chat (set once: never posted twice).
    rc_message_id: Mapped[str | None] = mapped_column(String(64))
    # waiting: Rocket.Chat asked us to wait (rate limit, no agent online) until then.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryStatus(Base):
    """A receipt (sent, delivered, read, failed) for a message we sent to a customer."""

    __tablename__ = "delivery_statuses"
    __table_args__ = (
        UniqueConstraint(
            "provider", "message_id", "status", name="uq_delivery_statuses_provider_message_status"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(320))
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookNonce(Base):
    """Single-use tokens of signed webhooks (Mailgun), to refuse replays."""

    __tablename__ = "webhook_nonces"
    __table_args__ = (
        UniqueConstraint("provider", "nonce", name="uq_webhook_nonces_provider_nonce"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(255))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
