"""Configuration read once from the environment into a frozen dataclass.

Nothing else in the code base reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def parse_boolean(value: str | None, default: bool = False) -> bool:
    """Read a boolean environment value; raise ValueError on anything ambiguous."""
    if value is None:
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_int(value: str | None, default: int, *, name: str) -> int:
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def parse_intervals(value: str | None) -> tuple[int, ...]:
    """``"5,15,45"`` -> (5, 15, 45); unset -> the default back-off."""
    if value is None or not value.strip():
        return (5, 15, 45, 135, 405)
    try:
        intervals = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ValueError(
            f"CARTERAS_RETRY_INTERVALS must be seconds like 5,15,45: {value!r}"
        ) from None
    if any(i < 0 for i in intervals):
        raise ValueError("CARTERAS_RETRY_INTERVALS cannot be negative")
    return intervals


def parse_seconds(value: str | None, default: float, *, name: str) -> float:
    """A positive number of seconds (``"2.5"``); unset -> *default*."""
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise ValueError(f"{name} must be more than 0 seconds, got {value!r}")
    return seconds


def normalize_database_url(url: str | None) -> str | None:
    """``postgres://`` and driverless ``postgresql://`` URLs use psycopg 3, the driver we ship."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


HANDOFFS = ("auto", "request", "database")


@dataclass(frozen=True)
class Config:
    """Every setting of the service. ``database_url=None`` means the embedded SQLite file."""

    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    default_phone_region: str = "MX"
    timezone: str = "UTC"
    log_level: str = "INFO"
    max_content_length: int = 5 * 1024 * 1024
    import_max_bytes: int = 64 * 1024 * 1024
    rocketchat_url: str | None = None
    rocketchat_user_id: str | None = None
    rocketchat_auth_token: str | None = None
    rocketchat_webhook_token: str | None = None
    rocketchat_routing_token: str | None = None
    whatsapp_app_secret: str | None = None
    whatsapp_verify_token: str | None = None
    twilio_auth_token: str | None = None
    mailgun_signing_key: str | None = None
    postmark_webhook_user: str | None = None
    postmark_webhook_password: str | None = None
    sendgrid_webhook_user: str | None = None
    sendgrid_webhook_password: str | None = None
    public_base_url: str | None = None
    whatsapp_access_token: str | None = None
    whatsapp_api_url: str = "https://graph.facebook.com/v21.0"
    twilio_account_sid: str | None = None
    twilio_api_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = True
    # Seconds between job retries (exponential by default); then the message is "failed".
    retry_intervals: tuple[int, ...] = (5, 15, 45, 135, 405)
    # The sweep (service/jobs/sweeper.py): every sweep_interval seconds it enqueues rows left
    # pending past pending_grace, and rows whose job stopped renewing its processing_lease
    # (the worker died): such a row is taken again within lease + interval (20 s by default).
    sweep_interval: float = 5.0
    pending_grace: float = 5.0
    processing_lease: float = 15.0
    secure_cookies: bool = False
    # Rocket.Chat: also put the badge in the visitor's display name (the sidebar), and how
    # long a message waits before trying again when no agent is online to open a room.
    badge_in_visitor_name: bool = False
    no_agent_wait: float = 30.0
    # Every so many seconds the sweep asks Rocket.Chat which agents are available; External
    # Service routing names only agents seen available within three such intervals.
    presence_interval: float = 15.0
    # A Rocket.Chat 5xx or refused connection is tried again this many times within the job
    # (0.2 s, 0.6 s, 1.5 s apart) before the job's own back-off takes over.
    rocketchat_quick_retries: int = 2
    # Customers' files for the agent's room: largest size, the types that go (``image/*``
    # patterns), and where files that came inside a delivery (email) wait for their job.
    media_max_bytes: int = 16 * 1024 * 1024
    media_types: tuple[str, ...] = ()  # () = images, PDF, audio, video, office documents
    media_dir: str | None = None
    testing: bool = False
    # Tests only (never read from the environment): without REDIS_URL, run each job at once
    # inside the request that queued it instead of in the background thread.
    jobs_inline: bool = False
    # Outbound media (issue 17): how long a signed file link (GET /media/<token>, fetched by
    # Twilio) stays valid, and the approved WhatsApp templates ("name:language, ...") a
    # coordinator may send instead of a reply refused for the closed 24-hour window.
    media_link_ttl: float = 900.0
    whatsapp_templates: tuple[tuple[str, str], ...] = ()
    # How a stored message reaches the queue (issue 14): "request" = the webhook enqueues the
    # job itself after its commit; "database" = the webhook's transaction only notifies
    # (PostgreSQL NOTIFY) and each worker's dispatcher hands the new rows to the queue, so a
    # webhook makes no Redis call at all; "auto" = "database" on PostgreSQL with Redis.
    handoff: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ

        def opt(name: str) -> str | None:
            value = env.get(name)
            return value if value and value.strip() else None

        config = cls(
            database_url=normalize_database_url(opt("DATABASE_URL")),
            redis_url=opt("REDIS_URL"),
            secret_key=opt("SECRET_KEY"),
            default_phone_region=(opt("DEFAULT_PHONE_REGION") or "MX").upper(),
            timezone=opt("CARTERAS_TIMEZONE") or "UTC",
            log_level=(opt("CARTERAS_LOG_LEVEL") or "INFO").upper(),
            max_content_length=parse_int(
                env.get("MAX_CONTENT_LENGTH"), 5 * 1024 * 1024, name="MAX_CONTENT_LENGTH"
            ),
            import_max_bytes=parse_int(
                env.get("CARTERAS_IMPORT_MAX_BYTES"),
                64 * 1024 * 1024,
                name="CARTERAS_IMPORT_MAX_BYTES",
            ),
            rocketchat_url=opt("ROCKETCHAT_URL"),
            rocketchat_user_id=opt("ROCKETCHAT_USER_ID"),
            rocketchat_auth_token=opt("ROCKETCHAT_AUTH_TOKEN"),
            rocketchat_webhook_token=opt("ROCKETCHAT_WEBHOOK_TOKEN"),
            rocketchat_routing_token=opt("ROCKETCHAT_ROUTING_TOKEN"),
            whatsapp_app_secret=opt("WHATSAPP_APP_SECRET"),
            whatsapp_verify_token=opt("WHATSAPP_VERIFY_TOKEN"),
            twilio_auth_token=opt("TWILIO_AUTH_TOKEN"),
            mailgun_signing_key=opt("MAILGUN_SIGNING_KEY"),
            postmark_webhook_user=opt("POSTMARK_WEBHOOK_USER"),
            postmark_webhook_password=opt("POSTMARK_WEBHOOK_PASSWORD"),
            sendgrid_webhook_user=opt("SENDGRID_WEBHOOK_USER"),
            sendgrid_webhook_password=opt("SENDGRID_WEBHOOK_PASSWORD"),
            public_base_url=opt("PUBLIC_BASE_URL"),
            whatsapp_access_token=opt("WHATSAPP_ACCESS_TOKEN"),
            whatsapp_api_url=opt("WHATSAPP_API_URL") or "https://graph.facebook.com/v21.0",
            twilio_account_sid=opt("TWILIO_ACCOUNT_SID"),
            twilio_api_url=opt("TWILIO_API_URL"),
            smtp_host=opt("SMTP_HOST"),
            smtp_port=parse_int(env.get("SMTP_PORT"), 587, name="SMTP_PORT"),
            smtp_user=opt("SMTP_USER"),
            smtp_password=opt("SMTP_PASSWORD"),
            smtp_from=opt("SMTP_FROM"),
            smtp_starttls=parse_boolean(env.get("SMTP_STARTTLS"), default=True),
            retry_intervals=parse_intervals(env.get("CARTERAS_RETRY_INTERVALS")),
            sweep_interval=parse_seconds(
                env.get("CARTERAS_SWEEP_INTERVAL"), 5.0, name="CARTERAS_SWEEP_INTERVAL"
            ),
            pending_grace=parse_seconds(
                env.get("CARTERAS_PENDING_GRACE"), 5.0, name="CARTERAS_PENDING_GRACE"
            ),
            processing_lease=parse_seconds(
                env.get("CARTERAS_PROCESSING_LEASE"), 15.0, name="CARTERAS_PROCESSING_LEASE"
            ),
            secure_cookies=parse_boolean(env.get("CARTERAS_SECURE_COOKIES")),
            badge_in_visitor_name=parse_boolean(env.get("CARTERAS_BADGE_IN_VISITOR_NAME")),
            no_agent_wait=parse_seconds(
                env.get("CARTERAS_NO_AGENT_WAIT"), 30.0, name="CARTERAS_NO_AGENT_WAIT"
            ),
            media_max_bytes=parse_int(
                env.get("CARTERAS_MEDIA_MAX_BYTES"),
                16 * 1024 * 1024,
                name="CARTERAS_MEDIA_MAX_BYTES",
            ),
            media_types=tuple(
                t.strip() for t in (opt("CARTERAS_MEDIA_TYPES") or "").split(",") if t.strip()
            ),
            media_dir=opt("CARTERAS_MEDIA_DIR"),
            rocketchat_quick_retries=parse_int(
                env.get("CARTERAS_RC_QUICK_RETRIES"), 2, name="CARTERAS_RC_QUICK_RETRIES"
            ),
            presence_interval=parse_seconds(
                env.get("CARTERAS_PRESENCE_INTERVAL"), 15.0, name="CARTERAS_PRESENCE_INTERVAL"
            ),
            media_link_ttl=parse_seconds(
                env.get("CARTERAS_MEDIA_LINK_TTL"), 900.0, name="CARTERAS_MEDIA_LINK_TTL"
            ),
            whatsapp_templates=parse_templates(env.get("CARTERAS_WHATSAPP_TEMPLATES")),
            handoff=(opt("CARTERAS_HANDOFF") or "auto").lower(),
        )
        config.validate()
        return config

    def validate(self) -> None:
        """Fail fast on settings that would only break later, at the first request."""
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"CARTERAS_TIMEZONE is not a known time zone: {self.timezone!r}"
            ) from None
        if self.handoff not in HANDOFFS:
            raise ValueError(
                f"CARTERAS_HANDOFF must be one of {', '.join(HANDOFFS)}: {self.handoff!r}"
            )
        import phonenumbers

        if self.default_phone_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"DEFAULT_PHONE_REGION is not a phone region: {self.default_phone_region!r}"
            )

    @property
    def embedded(self) -> bool:
        """True on the embedded default: SQLite file under instance/, no servers."""
        return self.database_url is None

    @property
    def handoff_through_database(self) -> bool:
        """Webhooks notify and workers dispatch (see ``handoff``); needs PostgreSQL's
        NOTIFY and a queue in Redis, so "database" elsewhere falls back to "request"."""
        possible = bool(self.redis_url) and (self.database_url or "").startswith("postgresql")
        return possible and self.handoff in ("auto", "database")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def with_overrides(self, **changes: object) -> Config:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_templates(value: str | None) -> tuple[tuple[str, str], ...]:
    """``"seguimiento:es_MX, pago_pendiente:es"`` -> (("seguimiento", "es_MX"), ...)."""
    found = []
    for entry in (value or "").split(","):
        name, _, language = entry.strip().partition(":")
        if not entry.strip():
            continue
        if not name.strip() or not language.strip():
            raise ValueError(
                f"CARTERAS_WHATSAPP_TEMPLATES entries are name:language, got {entry.strip()!r}"
            )
        found.append((name.strip(), language.strip()))
    return tuple(found)
