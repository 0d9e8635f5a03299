"""Postmark inbound webhook (JSON), protected by HTTP basic auth in the URL.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from typing import Any

from service.domain.messages import Attachment, Delivery, Identity, InboundMessage
from webhooks.email.threading import parse_date, thread_key
from webhooks.inbound import (
    InboundRequest,
    PayloadError,
    as_dict,
    as_list,
    load_json,
    shape_checked,
)
from webhooks.signatures import check_basic_auth

PROVIDER = "postmark"


def verify(req: InboundRequest, user: str, password: str) -> None:
    """:raise SignatureError: missing or wrong basic auth."""
    check_basic_auth(req, user, password)


def _attachment(item: dict[str, Any]) -> Attachment:
    # The base64 content is not kept: a digest and the size reference the file.
    try:
        data = base64.b64decode(str(item.get("Content") or ""), validate=False)
    except (binascii.Error, ValueError):
        data = b""
    return Attachment(
        name=item.get("Name"),
        content_type=item.get("ContentType"),
        size=item.get("ContentLength") if isinstance(item.get("ContentLength"), int) else len(data),
        sha256=hashlib.sha256(data).hexdigest() if data else None,
        data=data or None,
    )


@shape_checked
def parse(req: InboundRequest) -> Delivery:
    """:raise PayloadError: not JSON, or no sender address or MessageID."""
    body = load_json(req.raw)
    if not isinstance(body, dict):
        raise PayloadError("expected a JSON object")
    sender = as_dict(body.get("FromFull"))
    address = str(sender.get("Email") or body.get("From") or "").strip()
    postmark_id = body.get("MessageID")
    if not address or not postmark_id:
        raise PayloadError("FromFull.Email and MessageID are required")
    headers = {
        str(h.get("Name", "")).lower(): str(h.get("Value", ""))
        for h in as_list(body.get("Headers"))
        if isinstance(h, dict)
    }
    attachments = tuple(
        _attachment(a) for a in as_list(body.get("Attachments")) if isinstance(a, dict)
    )
    kept = {k: v for k, v in body.items() if k not in ("HtmlBody", "Attachments")}
    message = InboundMessage(
        channel="email",
        provider=PROVIDER,
        external_id=str(postmark_id),
        sender=Identity(kind="email", value=address.lower(), raw=address),
        sender_name=(sender.get("Name") or body.get("FromName") or None),
        sent_at=parse_date(body.get("Date")) or datetime.now(UTC),
        kind="email",
        text=body.get("StrippedTextReply") or body.get("TextBody") or None,
        attachments=attachments,
        thread_key=thread_key(
            headers.get("message-id"), headers.get("in-reply-to"), headers.get("references")
        ),
        recipient=body.get("OriginalRecipient") or body.get("To"),
        payload=kept,
    )
    return Delivery(messages=(message,))
