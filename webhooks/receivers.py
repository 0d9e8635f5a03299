"""The webhook endpoints: verify, parse, store in one transaction, answer 200, then enqueue.

The only Flask module of this package. It never calls Rocket.Chat: jobs do.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, cast

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)

from service.domain import intake
from service.domain.messages import Delivery
from service.domain.ports import Ports
from service.extensions import db
from service.jobs.enqueue import enqueue_inbox
from service.observability import access_details
from webhooks import rocketchat, twilio, whatsapp
from webhooks.email import mailgun, postmark, sendgrid
from webhooks.inbound import InboundRequest, PayloadError, SignatureError

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

JSON = ("application/json",)
FORM = ("application/x-www-form-urlencoded", "multipart/form-data")


def _config() -> Any:
    return current_app.config["CARTERAS"]


def _now() -> datetime:
    return cast(Ports, current_app.extensions["ports"]).clock.now()


def _secret(value: str | None, setting: str) -> str:
    if not value:
        raise ServiceUnavailable(
            f"{setting} is not configured, so this webhook refuses all traffic rather than "
            "accept unsigned messages. Set it and restart."
        )
    return value


def _inbound(*media_types: str, url: bool = False) -> InboundRequest:
    """The request as plain data; its full URL only for a provider that signs it (*url*)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.mimetype not in media_types:
        raise UnsupportedMediaType(
            f"Send {' or '.join(media_types)} (got {req.mimetype or 'no Content-Type'})."
        )
    return InboundRequest(
        url=req.url if url else "",
        headers=dict(req.headers.items()),
        raw=req.get_data(cache=True),  # 413 above MAX_CONTENT_LENGTH
        content_type=req.content_type or "",
    )


# A handler reads the request when it is ready to (after its secret: an unconfigured
# receiver answers 503 whatever it is sent); Flask's view checks the media type then.
Reader = Callable[[], InboundRequest]


@dataclasses.dataclass(frozen=True)
class Receiver:
    """A platform's POST webhook: the media types it takes, whether its provider signs the
    full URL, and what it does with the request (secret, signature, body, store), which
    answers the JSON body of a 200 or raises. Flask's view and the lane (webhooks/lane.py)
    both call it."""

    media_types: tuple[str, ...]
    handle: Callable[[Reader], dict[str, Any]]
    signs_url: bool = False


@dataclasses.dataclass(frozen=True)
class Unfinished:
    """What the lane raised, with its access line's fields, left for Flask to answer: the
    view raises it again (see ``receiver``), so the request is not run twice (a parser's
    error logged twice, a store attempted twice)."""

    error: Exception
    details: dict[str, Any]


UNFINISHED: Final = "carteras.webhooks.unfinished"  # the environ key the lane sets


def receiver(
    path: str, *media_types: str, signs_url: bool = False
) -> Callable[[Callable[[Reader], dict[str, Any]]], Receiver]:
    """Register *handle* as the POST webhook at *path*: its Flask view (the endpoint keeps
    the handler's name) reads the request and answers the handler's JSON; the view carries
    the ``Receiver`` for the lane."""

    def register(handle: Callable[[Reader], dict[str, Any]]) -> Receiver:
        found = Receiver(media_types, handle, signs_url)

        def view() -> Response:
            unfinished: Unfinished | None = request.environ.get(UNFINISHED)
            if unfinished is not None:
                if unfinished.details:
                    access_details(**unfinished.details)
                raise unfinished.error
            return jsonify(handle(lambda: _inbound(*media_types, url=signs_url)))

        view.__name__ = view.__qualname__ = handle.__name__
        view.receiver = found  # type: ignore[attr-defined]
        bp.post(path)(view)
        return found

    return register


def _checked(
    provider: str, verify: Callable[[], object], parse: Callable[[], Delivery]
) -> Delivery:
    """Authenticity first, then the body; a parser's unexpected error is a 400, never a 500."""
    try:
        verify()
    except SignatureError as exc:
        access_details(provider=provider, refused=str(exc))  # on the access line
        raise Unauthorized(str(exc)) from None
    except PayloadError as exc:
        raise BadRequest(str(exc)) from None
    try:
        return parse()
    except PayloadError as exc:
        raise BadRequest(str(exc)) from None
    except Exception:
        log.exception("webhook parser failed", extra={"provider": provider})
        raise BadRequest("The payload could not be read.") from None


def _keep_files(delivery: Delivery) -> Delivery:
    """Files that came inside the delivery (email attachments) go to the spool, and the row
    keeps only their reference: bytes never enter the database."""
    if not any(a.data for m in delivery.messages for a in m.attachments):
        return delivery
    files = cast(Ports, current_app.extensions["ports"]).files
    kept = []
    for message in delivery.messages:
        items = tuple(
            dataclasses.replace(
                a, ref=files.keep(a.data) if files is not None and a.data else a.ref, data=None
            )
            for a in message.attachments
        )
        kept.append(dataclasses.replace(message, attachments=items))
    return dataclasses.replace(delivery, messages=tuple(kept))


def _store(provider: str, delivery: Delivery, nonce: str | None = None) -> dict[str, Any]:
    delivery = _keep_files(delivery)
    # The scoped session makes its Session on first use: a message stored alone uses none.
    session, now, config = db.session, _now(), _config()
    through_database = config.handoff_through_database

    def accept(careful: bool) -> intake.Accepted:
        if nonce is not None and not intake.use_nonce(session(), provider, nonce, now):
            raise Unauthorized("This signed token was already used (replay).")
        # notify: the workers' dispatchers enqueue the new rows (see intake.accept)
        return intake.accept(
            session,
            delivery,
            region=config.default_phone_region,
            now=now,
            careful=careful,
            notify=through_database,
            alone=db.engine if nonce is None else None,  # nothing else in the transaction
        )

    try:
        accepted = accept(careful=False)  # one statement per row, no savepoints
    except intake.StoreAgain:  # the database refused a row: keep it as failed, alone
        session.rollback()
        accepted = accept(careful=True)
    # one message alone was committed by its statement (ScopedRegistry.has: no Session made)
    if session.registry.has() and session().in_transaction():
        session.commit()
    if not through_database:
        enqueue_inbox(accepted.new_ids)
    access_details(  # on the request's access line: one line per webhook
        provider=provider,
        new=len(accepted.new_ids),
        duplicates=accepted.duplicates,
        statuses=accepted.statuses,
        failed=accepted.failed,
    )
    return {
        "ok": True,
        "accepted": len(accepted.new_ids),
        "duplicates": accepted.duplicates,
        "statuses": accepted.statuses,
        "ignored": accepted.ignored,
        "failed": accepted.failed,
    }


@bp.get("/whatsapp")
def whatsapp_handshake() -> Response:
    """Meta's verification: echo hub.challenge when hub.verify_token matches."""
    token = _secret(_config().whatsapp_verify_token, "WHATSAPP_VERIFY_TOKEN")
    try:
        challenge = whatsapp.handshake(request.args.to_dict(), token)
    except SignatureError:
        raise Forbidden("hub.verify_token does not match.") from None
    except PayloadError as exc:
        raise BadRequest(str(exc)) from None
    return Response(challenge, mimetype="text/plain")


@receiver("/whatsapp", *JSON)
def whatsapp_notification(read: Reader) -> dict[str, Any]:
    secret = _secret(_config().whatsapp_app_secret, "WHATSAPP_APP_SECRET")
    req = read()
    delivery = _checked("meta", lambda: whatsapp.verify(req, secret), lambda: whatsapp.parse(req))
    return _store("meta", delivery)


@receiver("/twilio", "application/x-www-form-urlencoded", signs_url=True)
def twilio_message(read: Reader) -> dict[str, Any]:
    token = _secret(_config().twilio_auth_token, "TWILIO_AUTH_TOKEN")
    req = read()
    base = _config().public_base_url
    delivery = _checked(
        "twilio", lambda: twilio.verify(req, token, base), lambda: twilio.parse(req, _now())
    )
    return _store("twilio", delivery)


@receiver("/email/mailgun", *FORM)
def mailgun_message(read: Reader) -> dict[str, Any]:
    key = _secret(_config().mailgun_signing_key, "MAILGUN_SIGNING_KEY")
    req = read()
    nonce: list[str] = []
    delivery = _checked(
        "mailgun",
        lambda: nonce.append(mailgun.verify(req, key, _now())),
        lambda: mailgun.parse(req),
    )
    return _store("mailgun", delivery, nonce=nonce[0])


@receiver("/email/postmark", *JSON)
def postmark_message(read: Reader) -> dict[str, Any]:
    user = _secret(_config().postmark_webhook_user, "POSTMARK_WEBHOOK_USER")
    password = _secret(_config().postmark_webhook_password, "POSTMARK_WEBHOOK_PASSWORD")
    req = read()
    delivery = _checked(
        "postmark", lambda: postmark.verify(req, user, password), lambda: postmark.parse(req)
    )
    return _store("postmark", delivery)


@receiver("/email/sendgrid", "multipart/form-data")
def sendgrid_message(read: Reader) -> dict[str, Any]:
    user = _secret(_config().sendgrid_webhook_user, "SENDGRID_WEBHOOK_USER")
    password = _secret(_config().sendgrid_webhook_password, "SENDGRID_WEBHOOK_PASSWORD")
    req = read()
    delivery = _checked(
        "sendgrid", lambda: sendgrid.verify(req, user, password), lambda: sendgrid.parse(req)
    )
    return _store("sendgrid", delivery)


@receiver("/rocketchat", *JSON)
def rocketchat_event(read: Reader) -> dict[str, Any]:
    secret = _secret(_config().rocketchat_webhook_token, "ROCKETCHAT_WEBHOOK_TOKEN")
    req = read()
    delivery = _checked(
        "rocketchat", lambda: rocketchat.verify(req, secret), lambda: rocketchat.parse(req)
    )
    _store("rocketchat", delivery)
    # Rocket.Chat keeps the reply body as the room's crmData and echoes it: keep it tiny.
    return {"ok": True}
