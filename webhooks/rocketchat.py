"""Rocket.Chat Omnichannel webhooks (X-RocketChat-Livechat-Token): chat events, visitor and
agent messages, offline messages.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from service.domain.messages import Attachment, Delivery, Identity, InboundMessage
from webhooks.inbound import (
    InboundRequest,
    PayloadError,
    SignatureError,
    as_dict,
    load_json,
    shape_checked,
)
from webhooks.signatures import same, sha256_hex

PROVIDER = "rocketchat"
# Messages this service posts into Rocket.Chat carry ids with this prefix; Rocket.Chat echoes
# them back to the webhook, and they must not be taken for new customer messages.
OWN_MESSAGE_PREFIX = "carteras-"


def verify(req: InboundRequest, secret: str) -> None:
    """:raise SignatureError: missing or wrong X-RocketChat-Livechat-Token."""
    if not same(req.header("X-RocketChat-Livechat-Token"), secret):
        raise SignatureError("X-RocketChat-Livechat-Token is missing or wrong")


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one beyond year 1..9999 in UTC
        return None


def _handles(visitor: dict[str, Any]) -> tuple[Identity, ...]:
    # The documented shape is arrays of objects; the webhook test sends plain strings.
    found: list[Identity] = []
    for key, kind, inner in (("phone", "phone", "phoneNumber"), ("email", "email", "address")):
        values = visitor.get(key) or []  # a list, or one plain value (handled below)
        for item in values if isinstance(values, list) else [values]:
            text = item.get(inner) if isinstance(item, dict) else item
            if isinstance(text, str) and text.strip():
                found.append(Identity(kind=kind, value=text.strip(), raw=text))
    return tuple(found)


def _offline(body: dict[str, Any]) -> InboundMessage:
    visitor = as_dict(body.get("visitor"))
    address = str(visitor.get("email") or "").strip()
    # An offline message has no id: its key is a digest of what it says (not of the bytes,
    # so the same message sent again with other whitespace or key order is still one).
    content = [body.get("sentAt"), visitor.get("email"), visitor.get("name"), body.get("message")]
    digest = sha256_hex(json.dumps(content, sort_keys=True, default=str).encode())
    return InboundMessage(
        channel="webchat",
        provider=PROVIDER,
        external_id="offline:" + digest,
        sender=Identity(kind="email", value=address.lower(), raw=address) if address else None,
        sender_name=visitor.get("name") or None,
        sent_at=_when(body.get("sentAt")) or datetime.now(UTC),
        kind="offline_message",
        text=body.get("message") or None,
        payload=body,
    )


def _is_visitor(message: dict[str, Any], visitor: dict[str, Any]) -> bool:
    # Visitor messages carry the visitor's token, or come from the visitor's user id;
    # agent messages carry agentId.
    if message.get("token"):
        return True
    author = as_dict(message.get("u"))
    return not message.get("agentId") and author.get("_id") == visitor.get("_id")


def _files(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """The files of a message (sendToCRM.ts passes ``file`` and ``attachments``): name,
    type and the server path of each (``title_link``, ``/file-upload/<id>/<name>``)."""
    found = []
    file = as_dict(message.get("file"))
    listed = message.get("attachments")
    for item in listed if isinstance(listed, list) else []:
        item = as_dict(item)
        link = item.get("title_link")
        if isinstance(link, str) and link:
            found.append(
                Attachment(
                    name=str(item.get("title") or file.get("name") or "archivo"),
                    content_type=str(file.get("type") or item.get("image_type") or "") or None,
                    ref=link,
                    caption=str(item.get("description") or "") or None,
                )
            )
    return tuple(found)


@shape_checked
def parse(req: InboundRequest) -> Delivery:
    """One stored event per webhook call.

    ``kind`` says what it is: visitor_message, agent_message, echo (our own message coming
    back), offline_message, or the Rocket.Chat event type (LivechatSessionStart, ...).

    :raise PayloadError: not JSON, or no type/room id.
    """
    body = load_json(req.raw)
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise PayloadError("expected a JSON object with a 'type'")
    event = body["type"]
    if event == "LivechatOfflineMessage":
        return Delivery(messages=(_offline(body),))
    room_id = body.get("_id")
    visitor = as_dict(body.get("visitor"))
    listed = body.get("messages")
    messages = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
    if not isinstance(room_id, str) or not room_id:
        raise PayloadError("the room id '_id' is missing")
    last = messages[-1] if messages else {}
    last_id = str(last.get("_id") or "")
    if event == "Message":
        if not last_id:
            raise PayloadError("a Message event without its message")
        if last_id.startswith(OWN_MESSAGE_PREFIX):
            kind = "echo"
        else:
            kind = "visitor_message" if _is_visitor(last, visitor) else "agent_message"
        external_id = f"Message:{last_id}"
        edited = last.get("editedAt")
        if isinstance(edited, str) and edited and kind != "echo":
            # An edit comes back as a Message event with the same _id and editedAt
            # (afterSaveMessage runs on edits): a new event, never a duplicate to drop.
            kind += "_edit"
            external_id = f"Message:{last_id}:edited:{edited}"
    else:
        kind = event
        external_id = f"{event}:{room_id}:{last_id}"
        if event in ("LivechatSessionTaken", "LivechatSessionForwarded"):
            # taken or forwarded again with no message between: a new event for each agent
            served = as_dict(body.get("servedBy")) or as_dict(body.get("agent"))
            department = body.get("departmentId")
            external_id += f":{served.get('_id') or ''}:{department or ''}"
    token = visitor.get("token")
    return Delivery(
        messages=(
            InboundMessage(
                channel="webchat",
                provider=PROVIDER,
                external_id=external_id,
                sender=Identity(kind="rocketchat", value=token, raw=token)
                if isinstance(token, str) and token
                else None,
                sender_name=visitor.get("name") or None,
                sent_at=_when(last.get("ts")) or _when(body.get("createdAt")) or datetime.now(UTC),
                kind=kind,
                text=last.get("msg") or None if event == "Message" else None,
                attachments=_files(last) if event == "Message" else (),
                thread_key=room_id,
                recipient=body.get("departmentId") or visitor.get("department") or None,
                other_identities=_handles(visitor),
                payload=body,
            ),
        )
    )
