"""Agents' files on their way to the customer: what each channel takes (type and size), the
signed one-time links Twilio fetches them from, and the WhatsApp 24-hour window.

Pure rules: no Flask, no HTTP client (the adapters move the bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from service.domain.ports import MediaRejected

MB: Final = 1024 * 1024
WINDOW: Final = timedelta(hours=24)
WINDOW_CLOSED_NOTICE: Final = "La ventana de 24 horas cerró; use una plantilla"

# WhatsApp Cloud API, "Supported media types" of its media reference: the message type each
# MIME type goes as, and its size limit (image 5 MB, audio and video 16 MB, documents 100 MB).
WHATSAPP_CLOUD: Final[dict[str, tuple[str, int]]] = {
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "video/mp4": ("video", 16 * MB),
    "video/3gpp": ("video", 16 * MB),
    "audio/aac": ("audio", 16 * MB),
    "audio/amr": ("audio", 16 * MB),
    "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB),
    "audio/ogg": ("audio", 16 * MB),  # OPUS codecs only
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "document",
        100 * MB,
    ),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (
        "document",
        100 * MB,
    ),
}
# Twilio, "Guidance on WhatsApp Media Messages": 16 MB a message, images 5 MB.
TWILIO_WHATSAPP: Final[dict[str, int]] = {
    "image/jpeg": 5 * MB,
    "image/png": 5 * MB,
    "image/webp": 5 * MB,
    "audio/ogg": 16 * MB,
    "audio/amr": 16 * MB,
    "audio/3gpp": 16 * MB,
    "audio/aac": 16 * MB,
    "audio/mpeg": 16 * MB,
    "video/mp4": 16 * MB,
    "application/pdf": 16 * MB,
    "application/msword": 16 * MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 16 * MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 16 * MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 16 * MB,
}
# Twilio MMS ("Accepted content types for media"): 5 MB; the types every carrier shows.
TWILIO_MMS: Final[dict[str, int]] = {
    "image/jpeg": 5 * MB,
    "image/png": 5 * MB,
    "image/gif": 5 * MB,
}
# Email: any type; a limit most receiving servers take once base64 adds its third.
EMAIL_MAX: Final = 10 * MB
EMAIL_PROVIDERS: Final = frozenset({"mailgun", "postmark", "sendgrid"})


def content_type(declared: str | None, name: str | None) -> str:
    """The file's MIME type without parameters (``audio/ogg; codecs=opus`` -> ``audio/ogg``),
    from what Rocket.Chat declared, else guessed from its name."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    if not value or value == "application/octet-stream":
        guessed = mimetypes.guess_type(name or "")[0]
        value = guessed or value or "application/octet-stream"
    return value


def whatsapp_kind(mime: str) -> str:
    """The Cloud API message type a file of *mime* goes as (image, video, audio, document)."""
    return WHATSAPP_CLOUD.get(mime, ("document", 0))[0]


def max_size(provider: str, channel: str, mime: str) -> int:
    """The largest file of *mime* the channel takes.

    :raise MediaRejected: the channel does not take this type at all (code ``media_type``).
    """
    if provider in EMAIL_PROVIDERS:
        return EMAIL_MAX
    limit: int | None
    if provider == "meta":
        limit = WHATSAPP_CLOUD.get(mime, ("", None))[1]
        label = "WhatsApp"
    elif provider == "twilio":
        table = TWILIO_WHATSAPP if channel == "whatsapp" else TWILIO_MMS
        limit = table.get(mime)
        label = "Twilio WhatsApp" if channel == "whatsapp" else "Twilio MMS"
    else:
        limit, label = None, provider
    if not limit:
        raise MediaRejected(f"{label} does not take files of type {mime}", "media_type")
    return limit


def check_size(size: int, limit: int, mime: str) -> None:
    """:raise MediaRejected: *size* is over *limit* (code ``media_too_large``)."""
    if size > limit:
        raise MediaRejected(
            f"the file is {size} bytes; the channel takes at most {limit} bytes of {mime}",
            "media_too_large",
        )


# ---- signed one-time links -----------------------------------------------------------------
class LinkInvalid(Exception):
    """Not a link this service signed (404)."""


class LinkExpired(Exception):
    """Signed by this service but past its expiry (410)."""


@dataclass(frozen=True)
class MediaLink:
    outbound_id: int
    attempt: int
    expires: int  # epoch seconds


def _mac(secret: str, payload: bytes) -> bytes:
    key = hashlib.sha256(b"carteras-media-link:" + secret.encode()).digest()
    return hmac.new(key, payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_link(secret: str, outbound_id: int, attempt: int, expires: datetime) -> str:
    """A token naming one send attempt of one reply, valid until *expires* (HMAC-SHA256
    with a key derived from SECRET_KEY)."""
    payload = f"{outbound_id}.{attempt}.{int(expires.timestamp())}".encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def read_link(secret: str, token: str, now: datetime) -> MediaLink:
    """:raise LinkInvalid: not signed by *secret*, or malformed.
    :raise LinkExpired: signed, but expired."""
    try:
        body, mac = token.split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    except ValueError:
        raise LinkInvalid("malformed") from None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise LinkInvalid("bad signature")
    try:
        outbound_id, attempt, expires = (int(part) for part in payload.decode().split("."))
    except ValueError:
        raise LinkInvalid("malformed") from None
    if now.timestamp() >= expires:
        raise LinkExpired("expired")
    return MediaLink(outbound_id, attempt, expires)


# ---- the WhatsApp 24-hour customer service window -----------------------------------------
def window_open(last_customer_message: datetime | None, now: datetime) -> bool:
    """WhatsApp takes free-form messages until 24 hours after the customer's last one."""
    return last_customer_message is not None and now - last_customer_message < WINDOW
