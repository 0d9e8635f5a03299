"""Send an agent's reply to the customer on the conversation's channel, once: its text, its
file (fetched from Rocket.Chat through a temporary file) or an approved template."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import replace
from datetime import timedelta
from typing import Final

from flask import current_app
from sqlalchemy.orm import Session

from service.domain import media, outbound, templates
from service.domain.ports import (
    ChannelRejected,
    ChatPlatformError,
    ChatPlatformUnavailable,
    Media,
    MediaRejected,
    Ports,
    WindowClosed,
)
from service.jobs import runtime
from service.models import Conversation, OutboundMessage

log = logging.getLogger(__name__)
# The Omnichannel webhook brings our own posts back as echoes (webhooks/rocketchat.py
# OWN_MESSAGE_PREFIX): a notice to the agent is never relayed to the customer.
NOTICE_PREFIX: Final = "carteras-notice-"
MEDIA_NOTICES: Final = {
    "media_type": "el canal no acepta archivos de este tipo ({mime})",
    "media_too_large": "supera el tamaño que acepta el canal",
    "media_unavailable": "el servicio no pudo leer el archivo en Rocket.Chat",
    "media_refused": "el canal lo rechazó",
}


def send_reply(outbound_id: int) -> str:
    """Claim the reply (once), send it, mark it sent. Returns the outcome: sent, rejected
    (the channel refused it: ``failed`` now, the agent told why), or skipped."""
    with runtime.run("send_reply", outbound_id=outbound_id) as job:
        session, wired = job.session, job.ports
        row = job.claim(lambda s, now: outbound.claim(s, outbound_id, now))
        if row is None:
            return job.outcome
        provider = row.provider
        measured: dict[str, object] = {}  # the file's size and digest, kept even on failure

        def failed(session: Session, exc: Exception, final: bool) -> None:
            _record_failure(job, session, outbound_id, exc, final, measured)

        # the send's steps only: once the provider took it, nothing may put it back to pending
        with job.recording_failures(failed):
            try:
                provider_id = _send(job, row, measured)
            except ChannelRejected as exc:
                # a refusal will not change on retry (131047 included): fail it now, keep it
                # replayable, tell the agent
                session.rollback()
                kept = _record_failure(job, session, outbound_id, exc, True, measured)
                session.commit()
                job.log.warning("reply refused", extra={"error": repr(exc)[:300]})
                if kept is not None:
                    _notify_agent(session, kept, _error_code(exc), wired)
                return job.done("rejected", provider=provider)
        now = job.now()
        row.status, row.provider_message_id = "sent", provider_id
        row.sent_at, row.updated_at, row.last_error, row.error_code = now, now, None, None
        session.commit()
        return job.done("sent", provider=provider)


def _send(job: runtime.JobRun, row: OutboundMessage, measured: dict[str, object]) -> str:
    """Send the claimed reply: its text, its file or its template; the provider's id."""
    session, wired = job.session, job.ports
    sender = wired.senders.get(outbound.sender_key(row.provider))
    if sender is None:
        raise ChannelRejected(f"no sender is configured for {row.provider}")
    reply = outbound.reply_of(session, row)
    if templates.window_closed(session, row, job.now()):
        # WhatsApp would answer 131047: refuse it here, before fetching any file
        raise WindowClosed(
            "more than 24 hours since the customer's last message: only a template "
            "can go (POST /api/outbox/<id>/template)"
        )
    with tempfile.TemporaryDirectory(prefix="carteras-media-") as folder:
        if row.media_ref:
            file = _fetch(row, wired, folder, measured)
            reply = replace(reply, media=file)
            # recorded before the send: the signed link serves only this file
            row.media_size, row.media_sha256 = file.size, file.sha256
        session.commit()  # no transaction stays open through the provider's call
        return sender.send(reply)


def _fetch(row: OutboundMessage, wired: Ports, folder: str, measured: dict[str, object]) -> Media:
    """The agent's file from Rocket.Chat into *folder*, checked against the channel's limits
    (its type before any byte moves, its size while they do).

    :raise MediaRejected: the channel does not take it, or Rocket.Chat refuses to give it.
    :raise ChatPlatformUnavailable: Rocket.Chat is down: retried.
    """
    name = row.media_name or "archivo"
    mime = row.media_type or media.content_type(None, name)
    limit = media.max_size(row.provider, row.channel, mime)
    path = os.path.join(folder, "file")
    try:
        with open(path, "wb") as handle:
            wired.chat.download_file(row.media_ref or "", handle, limit)
    except ChatPlatformUnavailable:
        raise
    except ChatPlatformError as exc:
        raise MediaRejected(f"Rocket.Chat: {exc}", "media_unavailable") from exc
    size = os.path.getsize(path)
    media.check_size(size, limit, mime)  # the download stopped past the limit: not its size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    measured.update(media_size=size, media_sha256=digest.hexdigest())
    url = None
    if row.provider == "twilio":
        url = _signed_link(row, wired)
    return Media(name, mime, size, digest.hexdigest(), path=path, url=url)


def _signed_link(row: OutboundMessage, wired: Ports) -> str:
    """GET /media/<token> of this service: serves this attempt's file once, until it expires."""
    config = runtime.settings()
    if not config.public_base_url:
        raise ChannelRejected("Twilio fetches files from PUBLIC_BASE_URL, which is not set")
    expires = wired.clock.now() + timedelta(seconds=config.media_link_ttl)
    token = media.sign_link(current_app.config["SECRET_KEY"], row.id, row.attempts, expires)
    return f"{config.public_base_url.rstrip('/')}/media/{token}"


def _error_code(exc: Exception) -> str:
    if isinstance(exc, WindowClosed):
        return templates.WINDOW_CLOSED
    if isinstance(exc, MediaRejected):
        return exc.code
    if isinstance(exc, ChannelRejected):
        return "rejected"
    return "unavailable"


def _record_failure(
    job: runtime.JobRun,
    session: Session,
    outbound_id: int,
    exc: Exception,
    final: bool,
    measured: dict[str, object],
) -> OutboundMessage | None:
    """Keep the error on the reply: ``pending`` while the queue retries it, ``failed`` (for a
    replay) after the last try or a refusal."""
    failed = session.get(OutboundMessage, outbound_id)
    if failed is not None:
        failed.status = "failed" if final else "pending"
        failed.last_error = repr(exc)[:2000]
        failed.error_code = _error_code(exc)
        failed.updated_at = job.now()
        for key, value in measured.items():
            setattr(failed, key, value)
    return failed


def _notify_agent(session: Session, row: OutboundMessage, code: str, wired: Ports) -> None:
    """Tell the agent, in the room, why the reply did not reach the customer."""
    if code == templates.WINDOW_CLOSED:
        text = media.WINDOW_CLOSED_NOTICE
    elif code in MEDIA_NOTICES:
        reason = MEDIA_NOTICES[code].format(mime=row.media_type or "?")
        text = f"El archivo «{row.media_name or 'archivo'}» no se envió al cliente: {reason}."
    else:
        return
    conversation = session.get(Conversation, row.conversation_id) if row.conversation_id else None
    if conversation is None or not conversation.rc_room_id:
        return
    try:
        wired.chat.post_notice(
            conversation.rc_room_id, text, f"{NOTICE_PREFIX}{row.id}-{row.attempts}"
        )
    except ChatPlatformError as exc:  # the outbox row still says it
        log.warning("notice not posted", extra={"outbound_id": row.id, "error": str(exc)[:200]})
