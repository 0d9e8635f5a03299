"""Ports: what the domain and jobs need from the outside world, as Protocols.

Adapters implement them; ``service.app`` builds the real ones, tests pass fakes.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Protocol

from service.domain.routing import Presence


class QueueUnavailable(Exception):
    """The job queue cannot be reached; the work stays pending and is enqueued later."""


class JobQueue(Protocol):
    def enqueue(
        self, queue: str, function: str, *args: object, job_id: str, replace_started: bool = False
    ) -> bool:
        """Queue ``function(*args)``; False when a job with *job_id* already exists.

        With *replace_started* the caller knows nobody holds the work (the sweeper: its row is
        pending, or its lease lapsed), so a job still marked as started under *job_id* died
        and is replaced instead of counted as existing.

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


@dataclass(frozen=True)
class RunningJob:
    """The job this thread runs, set by queues that run jobs themselves (the in-process
    queue); RQ's own jobs are found through ``rq.get_current_job``."""

    id: str
    retries_left: int


running_job: ContextVar[RunningJob | None] = ContextVar("running_job", default=None)


class ChatPlatformError(Exception):
    """The chat platform refused a call (``code`` is its error name)."""

    retryable = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ChatPlatformUnavailable(ChatPlatformError):
    """Down, timing out, rate limiting or answering 5xx: retry later."""

    retryable = True


class ChatPlatformWait(ChatPlatformUnavailable):
    """The platform asks us to wait, not to fail: its rate limit (retry at the time it
    gives) or no agent online to open a room. A wait never uses up the retry budget."""

    def __init__(
        self, message: str, code: str | None = None, retry_at: datetime | None = None
    ) -> None:
        super().__init__(message, code)
        self.retry_at = retry_at


class RoomClosed(ChatPlatformError):
    """The room was closed in the chat platform; a new one must be opened."""


class FileRefused(ChatPlatformError):
    """The chat platform does not take this file (uploads off, too large, type not allowed)."""


class SameDepartment(ChatPlatformError):
    """A forward to the department the room is already in: refused, the room did not move."""


class AgentUnavailable(ChatPlatformError):
    """The agent cannot take the room: offline, not available, inactive, not an agent or
    gone from the platform."""


@dataclass(frozen=True)
class Visitor:
    id: str
    token: str


@dataclass(frozen=True)
class Room:
    id: str
    new: bool
    tags: tuple[str, ...] = ()
    open: bool = True
    department_id: str | None = None
    served_by: str | None = None  # the platform's user id of the agent serving it


@dataclass(frozen=True)
class ChatDepartment:
    """A Rocket.Chat department and the user ids of its agents."""

    id: str
    name: str
    enabled: bool
    agent_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ChatAgent:
    """A Rocket.Chat user as the set-up check and the sync need it (``active`` is None when
    the answer did not say)."""

    id: str
    username: str
    name: str
    email: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class ChatCustomField:
    id: str
    scope: str
    visibility: str


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

    def room(self, room_id: str) -> Room | None:
        """The room as the platform has it now (None when it does not exist)."""
        ...

    def post_visitor_message(self, token: str, room_id: str, text: str, message_id: str) -> None:
        """Post once under *message_id*: a repeat of a post that went through counts as sent.

        :raise RoomClosed: the room is closed.
        """
        ...

    def tag_room(
        self,
        *,
        visitor_id: str,
        room_id: str,
        tags: list[str],
        badge: str,
        visitor_name: str | None = None,
    ) -> None:
        """Add *tags* to the room's tags (never replacing them), set the badge field and the
        room topic to *badge*, and the visitor's display name when *visitor_name* is given."""
        ...

    def forward(
        self,
        room_id: str,
        *,
        agent_id: str | None = None,
        department_id: str | None = None,
        comment: str,
    ) -> None:
        """:raise AgentUnavailable: the agent cannot take it.
        :raise RoomClosed: the room is closed."""
        ...

    def upload_visitor_file(
        self,
        token: str,
        room_id: str,
        file: BinaryIO,
        *,
        name: str,
        content_type: str,
        description: str | None = None,
    ) -> None:
        """Post a customer's file into the room as the visitor, with *description*.

        :raise FileRefused: the platform does not take it (``code`` says why).
        """
        ...

    def return_to_queue(self, room_id: str, department_id: str | None) -> bool:
        """Take the room from its agent and put it back in *department_id*'s queue; False
        when nobody was serving it.

        :raise RoomClosed: the room is closed."""
        ...

    def presence(self, agent_user_id: str) -> Presence: ...

    def available_agents(self) -> frozenset[str] | None:
        """User ids of the agents who can take a chat now; None when the platform cannot
        tell (the recording stand-in)."""
        ...

    # ---- set-up check and sync (``flask rocketchat check|sync``) -------------------------
    def server_version(self) -> str:
        """:raise ChatPlatformUnavailable: the server does not answer."""
        ...

    def bot_permissions(self) -> frozenset[str]:
        """The permissions the service's own user holds, through its roles.

        :raise ChatPlatformError: the credentials are refused.
        """
        ...

    def read_settings(self, ids: list[str]) -> dict[str, Any]:
        """The values of the settings the service's user may read; others are left out."""
        ...

    def custom_fields(self) -> list[ChatCustomField]: ...

    def save_custom_field(self, field_id: str, *, label: str, scope: str, visibility: str) -> None:
        """Create the custom field (the platform's own endpoint for it)."""
        ...

    def departments(self) -> list[ChatDepartment]:
        """Every department with its agents."""
        ...

    def agents(self) -> list[ChatAgent]:
        """Every user with the livechat agent role."""
        ...

    def user(self, user_id: str) -> ChatAgent | None:
        """Any user by id, agent or not; None when there is no such user."""
        ...

    # ---- outbound media and notices (issue 17) --------------------------------------------
    def download_file(self, ref: str, into: BinaryIO, max_bytes: int) -> str | None:
        """Write the file at *ref* (the server path ``/file-upload/<id>/<name>`` an agent's
        message gave) into *into*, stopping once more than *max_bytes* were written; returns
        the Content-Type the platform served.

        :raise ChatPlatformError: the platform refuses it (``code`` says why: file-forbidden,
            file-not-found, bad-file-ref).
        :raise ChatPlatformUnavailable: down or timing out: retry later.
        """
        ...

    def post_notice(self, room_id: str, text: str, notice_id: str) -> None:
        """Post *text* into the room as the service's own user, for the agent to read (never
        relayed to the customer); once per *notice_id*.

        :raise ChatPlatformError: refused.
        """
        ...


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
    media: Media | None = None  # the agent's file, as a local file or a signed link
    template: Template | None = None  # a WhatsApp template instead of text


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


class FileUnavailable(Exception):
    """The channel or the spool cannot give the file now (down, 5xx, timeout): retry later."""


class FileGone(Exception):
    """The file cannot be had any more (expired or unknown media id, refused credentials)."""


class ChannelFiles(Protocol):
    """Customers' files on their way in (issue 17): bytes never go to the database."""

    def keep(self, data: bytes) -> str:
        """Put bytes that came inside a delivery (email attachments) aside; returns their
        reference (``spool:<sha256>``), stable for the same bytes."""
        ...

    def fetch(self, ref: str, into: BinaryIO, max_bytes: int) -> str | None:
        """Write the file *ref* names into *into*, stopping once more than *max_bytes* were
        written; returns the content type the source gave, if any.

        :raise FileGone: it cannot be had.
        :raise FileUnavailable: retry later.
        """
        ...

    def forget(self, ref: str) -> None:
        """Drop a kept file once it is delivered (a no-op for the channels' own files)."""
        ...


@dataclass
class Ports:
    jobs: JobQueue
    chat: ChatPlatform
    clock: Clock = field(default_factory=SystemClock)
    badges: LiveBadges = field(default_factory=NoBadges)
    # provider of the conversation (meta, twilio, or email) -> how to answer there
    senders: dict[str, ReplySender] = field(default_factory=dict)
    # customers' files: fetched from the channel, or kept aside when a delivery carries them
    files: ChannelFiles | None = None


# ---- outbound media and the WhatsApp 24-hour window (issue 17) ----------------------------
@dataclass(frozen=True)
class Media:
    """An agent's file on its way out: a local temporary *path* (uploaded or attached by the
    sender) or a signed *url* of this service (fetched by the provider, Twilio)."""

    name: str
    content_type: str
    size: int
    sha256: str
    path: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Template:
    """An approved WhatsApp message template: name, language code, body parameters."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


class WindowClosed(ChannelRejected):
    """WhatsApp refuses a free-form message more than 24 hours after the customer's last
    message (Cloud API error 131047, Twilio 63016): only a template can go."""


class MediaRejected(ChannelRejected):
    """The channel does not take this file (its type or its size)."""

    def __init__(self, message: str, code: str = "media_rejected") -> None:
        super().__init__(message)
        self.code = code
