"""A customer's files into the agent's room: each one fetched from its channel (or the spool)
through a temporary file, checked against the limits, uploaded as the visitor, or replaced by
a line that says why not. Each outcome is recorded on the inbox row as it happens, so a retry
never uploads a file twice and never loses one."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import tempfile
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from service.domain import attachments
from service.domain.ports import FileGone, FileRefused, Ports
from service.jobs import runtime
from service.models import Conversation, InboxMessage

log = logging.getLogger(__name__)


class _Digest:
    """A file wrapper that hashes what is written through it."""

    def __init__(self, into: BinaryIO) -> None:
        self.into, self.hash, self.size = into, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.into.write(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.into.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        """Start again (a download that must be repeated)."""
        self.hash, self.size = hashlib.sha256(), 0
        return self.into.truncate(size)


def limits() -> attachments.FileLimits:
    config = runtime.settings()
    return attachments.FileLimits(
        max_bytes=config.media_max_bytes, types=config.media_types or attachments.DEFAULT_TYPES
    )


def _name(item: dict[str, Any], content_type: str) -> str:
    if item.get("name"):
        return str(item["name"])
    extension = mimetypes.guess_extension(content_type) or ""
    return f"{content_type.split('/')[0] or 'archivo'}{extension}"


def _deliver(
    ports: Ports, conversation: Conversation, item: dict[str, Any], rules: attachments.FileLimits
) -> dict[str, Any]:
    """One file: its outcome, to be kept on the row (``delivered`` or ``refused``)."""
    assert conversation.rc_visitor_token
    assert conversation.rc_room_id
    ref = item.get("ref")
    if not ref or ports.files is None:
        return {"refused": "gone"}
    with tempfile.TemporaryFile() as spooled:
        digest = _Digest(spooled)
        try:
            served = ports.files.fetch(str(ref), digest, rules.max_bytes)  # type: ignore[arg-type]
        except FileGone as exc:
            log.info("file not fetched", extra={"error": str(exc)[:200]})
            return {"refused": "gone"}
        seen = {"sha256": digest.hash.hexdigest(), "size": digest.size}
        content_type = attachments.base_type(item.get("content_type") or served)
        if digest.size > rules.max_bytes:
            return {"refused": "too_large", "size": digest.size}
        if not attachments.type_allowed(content_type, rules):
            return {"refused": "type", **seen}
        spooled.seek(0)
        try:
            ports.chat.upload_visitor_file(
                conversation.rc_visitor_token,
                conversation.rc_room_id,
                spooled,
                name=_name(item, content_type),
                content_type=content_type,
            )
        except FileRefused as exc:
            return {"refused": exc.code or "refused", **seen}
    return {"delivered": True, **seen}


def deliver_files(
    session: Session, row: InboxMessage, conversation: Conversation, ports: Ports
) -> None:
    """Every file of *row* not handled yet, in order; a refused one leaves a line instead.

    :raise FileUnavailable: the channel cannot give a file now (the job is retried).
    :raise RoomClosed: the room closed meanwhile.
    """
    rules = limits()
    items = [dict(i) for i in row.attachments or [] if isinstance(i, dict)]
    for index, item in enumerate(items):
        if item.get("delivered") or item.get("refused"):
            continue
        outcome = _deliver(ports, conversation, item, rules)
        if outcome.get("refused"):
            assert conversation.rc_visitor_token
            assert conversation.rc_room_id
            ports.chat.post_visitor_message(
                conversation.rc_visitor_token,
                conversation.rc_room_id,
                attachments.refusal(
                    item.get("name"), outcome["refused"], item.get("content_type"), rules
                ),
                f"carteras-{row.id}-f{index}",
            )
        items[index] = {**item, **outcome}
        row.attachments = list(items)
        session.commit()  # each file once, even if a later one fails and is retried
        if ports.files is not None and item.get("ref"):
            ports.files.forget(str(item["ref"]))
