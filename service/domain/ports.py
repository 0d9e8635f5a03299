"""Ports: what the domain and jobs need from the outside world, as Protocols.

Adapters implement them; ``service.app`` builds the real ones, tests pass fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from service.domain.routing import Presence


class QueueUnavailable(Exception):
    """The job queue cannot be reached; the work stays pending and is enqueued later."""


class JobQueue(Protocol):
    def enqueue(self, queue: str, function: str, *args: object, job_id: str) -> bool:
        """Queue ``function(*args)``; False when a job with *job_id* already exists.

        :raise QueueUnavailable: the queue backend cannot be reached.
        """
        ...

    def enqueue_at(
        self, when: datetime, queue: str, function: str, *args: object, job_id: str
    ) -> None:
        """Run ``function(*args)`` at *when* (the sweeper is the safety net).

        :raise QueueUnavailable: the queue backend cannot be reached.
        """
        ...


class ChatPlatformError(Exception):
    """The chat platform refused a call (``code`` is its error name)."""

    retryable = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ChatPlatformUnavailable(ChatPlatformError):
    """Down, timing out, rate limiting or answering 5xx: retry later."""

    retryable = True


class RoomClosed(ChatPlatformError):
    """The room was closed in the chat platform; a new one must be opened."""


@dataclass(frozen=True)
class Visitor:
    id: str
    token: str


@dataclass(frozen=True)
class Room:
    id: str
    new: bool
    tags: tuple[str, ...] = ()


class ChatPlatform(Protocol):
    """Rocket.Chat Omnichannel as the jobs need it."""

    name: str

    def register_visitor(
        self,
        token: str,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        department: str | None,
    ) -> Visitor: ...

    def open_room(self, token: str, *, agent_id: str | None = None) -> Room: ...

    def post_visitor_message(self, token: str, room_id: str, text: str, message_id: str) -> None:
        """:raise RoomClosed: the room is closed."""
        ...

    def tag_room(
        self, *, token: str, visitor_id: str, room_id: str, tags: list[str], badge: str
    ) -> None:
        """Add *tags* to the room's tags (never replacing them) and set the badge field."""
        ...

    def forward(
        self,
        room_id: str,
        *,
        agent_id: str | None = None,
        department_id: str | None = None,
        comment: str,
    ) -> None: ...

    def presence(self, agent_user_id: str) -> Presence: ...


@dataclass(frozen=True)
class Reply:
    """An agent's answer, to send on the channel the conversation came from."""

    reply_id: str
    channel: str
    provider: str
    to: str
    text: str
    sender: str | None = None  # our number, WhatsApp phone_number_id, or None for email
    subject: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


class ChannelUnavailable(Exception):
    """The channel's API is down, timing out or answering 5xx: retry later."""


class ChannelRejected(Exception):
    """The channel's API refused the message (bad number, auth): retrying will not help."""


class ReplySender(Protocol):
    def send(self, reply: Reply) -> str:
        """Send and return the provider's message id.

        :raise ChannelUnavailable: retry later.
        :raise ChannelRejected: the provider refused it.
        """
        ...


class LiveBadges(Protocol):
    def emit(self, payload: dict[str, Any], rooms: list[str]) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class NoBadges:
    def emit(self, payload: dict[str, Any], rooms: list[str]) -> None:
        return None


@dataclass
class Ports:
    jobs: JobQueue
    chat: ChatPlatform
    clock: Clock = field(default_factory=SystemClock)
    badges: LiveBadges = field(default_factory=NoBadges)
    # provider of the conversation (meta, twilio, or email) -> how to answer there
    senders: dict[str, ReplySender] = field(default_factory=dict)
