"""What a receiver hands to a provider module: the request as plain data, and the errors
a provider raises. Must not import Flask, werkzeug or the database."""

from __future__ import annotations

import email.errors
import email.message
import email.parser
import email.policy
import functools
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def shape_checked(parse: Callable[P, R]) -> Callable[P, R]:
    """A payload whose fields have other types than documented (a list where an object was
    due, a number for a date) is a PayloadError, like any other malformed body."""

    @functools.wraps(parse)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return parse(*args, **kwargs)
        except (
            AttributeError,
            TypeError,
            KeyError,
            IndexError,
            ValueError,
            LookupError,
            email.errors.MessageError,
        ) as exc:
            if isinstance(exc, PayloadError):
                raise
            raise PayloadError(f"the payload does not have the documented shape ({exc})") from None

    return checked


def as_dict(value: object) -> dict[str, Any]:
    """*value* if it is a JSON object, else an empty one (payloads are untrusted)."""
    return value if isinstance(value, dict) else {}


class SignatureError(Exception):
    """Missing or wrong signature, token or credentials: answer 401, store nothing."""


class PayloadError(Exception):
    """The body is not what the provider sends (bad JSON, missing fields): answer 400."""


@dataclass(frozen=True)
class InboundRequest:
    """A webhook request: ``url`` as the platform called it, ``raw`` the exact body bytes."""

    url: str
    headers: Mapping[str, str]
    raw: bytes
    content_type: str = ""
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def form(self) -> list[tuple[str, str]]:
        """urlencoded fields in order (UTF-8, as Twilio and Mailgun send them).

        :raise PayloadError: not decodable.
        """
        try:
            text = self.raw.decode("utf-8")
            return urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadError(f"the form body cannot be read: {exc}") from None

    def multipart(self) -> list[email.message.Message]:
        """multipart/form-data parts, each with its raw bytes (``get_payload(decode=True)``).

        Parsed with the stdlib email package so that every field keeps its original bytes
        (SendGrid sends fields in the charsets it declares, not UTF-8).

        :raise PayloadError: not multipart, or no boundary.
        """
        header = self.header("Content-Type") or self.content_type
        if "multipart/form-data" not in header or "boundary=" not in header:
            raise PayloadError("expected multipart/form-data with a boundary")
        envelope = f"Content-Type: {header}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
            envelope + self.raw
        )
        parts = message.get_payload()
        if not message.is_multipart() or not isinstance(parts, list) or not parts:
            raise PayloadError("the multipart body has no parts")
        return [p for p in parts if isinstance(p, email.message.Message)]


def form_name(part: email.message.Message) -> str | None:
    """The ``name`` of a multipart/form-data part."""
    name = part.get_param("name", header="content-disposition")
    return name if isinstance(name, str) else None


def part_bytes(part: email.message.Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


@dataclass(frozen=True)
class UploadedFile:
    field: str
    filename: str | None
    content_type: str | None
    data: bytes


def multipart_fields(req: InboundRequest) -> tuple[dict[str, bytes], list[UploadedFile]]:
    """Fields of a multipart/form-data body as raw bytes, and its files.

    :raise PayloadError: not multipart.
    """
    fields: dict[str, bytes] = {}
    charsets: dict[str, str] = {}
    files: list[UploadedFile] = []
    for part in req.multipart():
        name = form_name(part)
        if not name:
            continue
        data = part_bytes(part)
        filename = part.get_filename()
        if filename is not None:
            files.append(UploadedFile(name, filename, part.get_content_type(), data))
        else:
            fields[name] = data
            charsets[name] = part.get_content_charset() or "utf-8"
    return fields, files


def form_fields(req: InboundRequest) -> tuple[dict[str, str], list[UploadedFile]]:
    """Text fields and files of a urlencoded or multipart body (UTF-8: Twilio, Mailgun).

    :raise PayloadError: neither form encoding, or unreadable.
    """
    content_type = (req.header("Content-Type") or req.content_type).lower()
    if "multipart/form-data" in content_type:
        raw, files = multipart_fields(req)
        return {name: decode_text(data, "utf-8") for name, data in raw.items()}, files
    if "application/x-www-form-urlencoded" in content_type:
        return dict(req.form()), []
    raise PayloadError("expected a form body")


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in their declared charset; an unknown or wrong charset never raises."""
    try:
        return data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")
