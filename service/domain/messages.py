"""Normalized inbound traffic shared by webhooks, domain and jobs: frozen dataclasses only.

Must not import Flask, the database or any provider library.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

Channel = Literal["whatsapp", "email", "webchat", "sms", "custom"]
CHANNELS: Final = ("whatsapp", "email", "webchat", "sms", "custom")
PROVIDERS: Final = ("meta", "twilio", "mailgun", "postmark", "sendgrid", "rocketchat", "generic")


@dataclass(frozen=True)
class Identity:
    """Who sent it: ``kind`` phone | email | rocketchat; ``value`` normalized; ``raw`` as sent."""

    kind: str
    value: str
    raw: str


@dataclass(frozen=True)
class Attachment:
    """A file of a message: a reference to it (a provider media id or URL, or ``spool:<sha256>``
    once the receiver has put bytes that came inside the delivery into the spool), never the
    bytes in the database. ``data`` carries such bytes from the parser to the receiver only."""

    name: str | None = None
    content_type: str | None = None
    size: int | None = None
    ref: str | None = None
    sha256: str | None = None
    caption: str | None = None
    data: bytes | None = field(default=None, repr=False, compare=False)

    def stored(self) -> dict[str, object]:
        """What the inbox row keeps of it: everything but the bytes."""
        return {k: v for k, v in asdict(self).items() if k != "data"}


@dataclass(frozen=True)
class InboundMessage:
    """One message from a customer (or an event), as every parser returns it."""

    channel: Channel
    provider: str
    external_id: str
    sender: Identity | None
    sent_at: datetime
    kind: str = "text"
    sender_name: str | None = None
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    thread_key: str | None = None
    recipient: str | None = None
    # More handles of the same person (a web-chat visitor's phone and email), for matching.
    other_identities: tuple[Identity, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt for a message we sent: recorded, never routed."""

    provider: str
    message_id: str
    status: str
    occurred_at: datetime
    recipient: str | None = None
    errors: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Delivery:
    """Everything one webhook POST carried: zero or more messages and receipts."""

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
