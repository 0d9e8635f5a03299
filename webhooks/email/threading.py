"""Email addresses, display names (RFC 2047), dates and thread keys from headers.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import re
from datetime import UTC, datetime

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str | None) -> list[str]:
    """The ``<id@host>`` tokens of a Message-Id, In-Reply-To or References header."""
    return _MESSAGE_ID.findall(value or "")


def thread_key(
    message_id: str | None, in_reply_to: str | None, references: str | None
) -> str | None:
    """First id of References, else In-Reply-To, else the message's own id."""
    for value in (references, in_reply_to, message_id):
        ids = message_ids(value)
        if ids:
            return ids[0]
    return (message_id or "").strip() or None


def decode_words(value: str | None) -> str | None:
    """Decode RFC 2047 encoded words (``=?UTF-8?Q?Luc=C3=ADa?=``); unknown charsets never raise."""
    if not value:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(value))).strip() or None
    except (LookupError, UnicodeError, ValueError, email.errors.MessageError):
        # CharsetError (a MessageError): a charset name that is not ASCII
        return value.strip() or None


def split_address(value: str | None) -> tuple[str | None, str | None]:
    """(display name decoded, address) of a From-style header."""
    if not value:
        return None, None
    name, address = email.utils.parseaddr(value)
    return decode_words(name), (address.strip() or None)


def parse_date(value: object) -> datetime | None:
    """The header's moment in UTC; None when it is missing, not text, or not a date."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: beyond 1..9999
        return None
