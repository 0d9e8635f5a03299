"""What a receiver hands to a provider module: the request as plain data, and the errors
a provider raises. Must not import Flask, werkzeug or the database."""

from __future__ import annotations

import dataclasses
import email.errors
import email.message
import email.parser
import email.policy
import functools
import json
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, ParamSpec, TypeVar, cast

from service.domain.messages import Attachment, Delivery, Identity, InboundMessage, StatusUpdate

P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V")


def shape_checked(parse: Callable[P, R]) -> Callable[P, R]:
    """A payload whose fields have other types than documented (a list where an object was
    due, a number for a date) is a PayloadError, like any other malformed body; the delivery
    a parser returns leaves with clean text (see ``clean_delivery``)."""

    @functools.wraps(parse)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = parse(*args, **kwargs)
            if isinstance(result, Delivery):
                return cast(R, clean_delivery(result))
            return result
        except (
            AttributeError,
            TypeError,
            KeyError,
            IndexError,
            ValueError,
            LookupError,
            ArithmeticError,  # datetime overflow on dates far outside any calendar in use
            RecursionError,
            email.errors.MessageError,
        ) as exc:
            if isinstance(exc, PayloadError):
                raise
            raise PayloadError(f"the payload does not have the documented shape ({exc})") from None

    return checked


def as_list(value: object) -> list[Any]:
    """*value* if it is a JSON array, else an empty one (payloads are untrusted)."""
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    """*value* if it is a JSON object, else an empty one (payloads are untrusted)."""
    return value if isinstance(value, dict) else {}


class SignatureError(Exception):
    """Missing or wrong signature, token or credentials: answer 401, store nothing."""


class PayloadError(Exception):
    """The body is not what the provider sends (bad JSON, missing fields): answer 400."""


@dataclass(frozen=True)
class InboundRequest:
    """A webhook request: ``url`` as the platform called it (empty for the providers whose
    checks do not read it), ``raw`` the exact body bytes."""

    url: str
    headers: Mapping[str, str]
    raw: bytes
    content_type: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def form(self) -> dict[str, str]:
        """urlencoded fields (UTF-8, as Twilio and Mailgun send them), each name once.

        Signature checks and parsers both read this one mapping. A repeated name is refused:
        no provider sends one, and if it were kept a signature check could read one value
        while the parser stores another (Twilio signs the first value of a name).

        :raise PayloadError: not decodable, or a field name repeated.
        """
        try:
            text = self.raw.decode("utf-8")
            pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadError(f"the form body cannot be read: {exc}") from None
        return unique_fields(pairs)

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


def unique_fields(pairs: list[tuple[str, V]]) -> dict[str, V]:
    """The pairs of a form as a mapping.

    :raise PayloadError: a name comes twice.
    """
    fields: dict[str, V] = {}
    for name, value in pairs:
        if name in fields:
            raise PayloadError(f"the form field {name!r} is repeated")
        fields[name] = value
    return fields


def multipart_fields(req: InboundRequest) -> tuple[dict[str, bytes], list[UploadedFile]]:
    """Fields of a multipart/form-data body as raw bytes, and its files.

    :raise PayloadError: not multipart, or a part name repeated (fields and files alike).
    """
    pairs: list[tuple[str, bytes]] = []
    files: list[UploadedFile] = []
    for part in req.multipart():
        name = form_name(part)
        if not name:
            continue
        data = part_bytes(part)
        filename = part.get_filename()
        if filename is not None:
            files.append(UploadedFile(name, filename, part.get_content_type(), data))
        pairs.append((name, data))
    fields = unique_fields(pairs)
    for upload in files:
        del fields[upload.field]
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
        return req.form(), []
    raise PayloadError("expected a form body")


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes in their declared charset; an unknown or wrong charset never raises."""
    try:
        return data.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


# ---- untrusted JSON and text -----------------------------------------------------------------
# Provider payloads are a few levels deep; anything far deeper is an attack on the parser.
MAX_JSON_DEPTH = 32
# C0 controls other than tab, newline and carriage return: PostgreSQL refuses NUL in text,
# and none of them is something a person typed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNCLEAN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")  # either of them


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)  # one, not one per call


def load_json(raw: bytes | str) -> Any:
    """A JSON document whose depth stays within ``MAX_JSON_DEPTH`` (NaN and Infinity refused).

    :raise PayloadError: not JSON, or nested too deeply.
    """
    try:
        # as json.loads reads bytes (UTF-8, -16 or -32), with one decoder for every call
        text = (
            raw.decode(json.detect_encoding(raw), "surrogatepass")
            if isinstance(raw, bytes)
            else raw
        )
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise PayloadError("the body is not JSON, or is nested too deeply") from None
    # Every array or object opens with a bracket: a body with few of them (any usual
    # payload) cannot be nested too deeply, and is not walked.
    if isinstance(raw, bytes):
        brackets = raw.count(b"{") + raw.count(b"[")
    else:
        brackets = raw.count("{") + raw.count("[")
    if brackets <= MAX_JSON_DEPTH:
        return value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise PayloadError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


def clean_text(value: str) -> str:
    """Text any database stores: lone surrogates become U+FFFD and C0 control characters
    other than tab and line breaks (NUL above all) are removed."""
    if _UNCLEAN.search(value) is None:
        return value  # the usual case: one scan
    if _SURROGATE.search(value):
        # Through UTF-16, a valid pair joins into one character and a lone half is replaced.
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", value)


def as_text(value: object) -> str:
    """A field that must be text: numbers and booleans as written, containers as JSON."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return json.dumps(clean_value(value), ensure_ascii=False, default=str)


def optional_text(value: object) -> str | None:
    return None if value is None else as_text(value)


def _key(key: object) -> str:
    return key if type(key) is str and _UNCLEAN.search(key) is None else as_text(key)


def clean_value(value: Any, depth: int = 0) -> Any:
    """A JSON-like value with clean text everywhere (keys too) and only finite numbers.

    :raise PayloadError: nested deeper than ``MAX_JSON_DEPTH``.
    """
    if depth > MAX_JSON_DEPTH:
        raise PayloadError(f"the payload is nested deeper than {MAX_JSON_DEPTH} levels")
    # a payload's own types first (the hot path)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_key(k): clean_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_value(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return as_text(value)


def _identity(identity: Identity | None) -> Identity | None:
    if identity is None:
        return None
    return Identity(as_text(identity.kind), as_text(identity.value), as_text(identity.raw))


def _attachment(item: Attachment) -> Attachment:
    size = item.size if isinstance(item.size, int) and not isinstance(item.size, bool) else None
    return Attachment(
        name=optional_text(item.name),
        content_type=optional_text(item.content_type),
        size=size if size is None or 0 <= size < 2**63 else None,
        ref=optional_text(item.ref),
        sha256=optional_text(item.sha256),
        caption=optional_text(item.caption),
        data=item.data if isinstance(item.data, bytes) else None,
    )


def _message(message: InboundMessage) -> InboundMessage:
    if not isinstance(message.sent_at, datetime):
        raise PayloadError("a message has no usable date")
    payload = clean_value(message.payload)
    return dataclasses.replace(
        message,
        provider=as_text(message.provider),
        external_id=as_text(message.external_id),
        sender=_identity(message.sender),
        kind=as_text(message.kind) or "unknown",
        sender_name=optional_text(message.sender_name),
        text=optional_text(message.text),
        attachments=tuple(_attachment(a) for a in message.attachments),
        thread_key=optional_text(message.thread_key),
        recipient=optional_text(message.recipient),
        other_identities=tuple(
            i for i in (_identity(o) for o in message.other_identities) if i is not None
        ),
        payload=payload if isinstance(payload, dict) else {"value": payload},
    )


def _status(status: StatusUpdate) -> StatusUpdate:
    return dataclasses.replace(
        status,
        provider=as_text(status.provider),
        message_id=as_text(status.message_id),
        status=as_text(status.status),
        recipient=optional_text(status.recipient),
        errors=tuple(clean_value(e) for e in status.errors if isinstance(e, dict)),
    )


def clean_delivery(delivery: Delivery) -> Delivery:
    """Every text field as text (a number where text belongs is written out), with no NUL,
    no lone surrogate and no other control character, so that any database stores it.

    :raise PayloadError: a payload nested too deeply, or a message without a date.
    """
    return Delivery(
        messages=tuple(_message(m) for m in delivery.messages),
        statuses=tuple(_status(s) for s in delivery.statuses),
    )
