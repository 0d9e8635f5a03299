"""GET /media/<token>: an agent's file for a provider that fetches it by URL (Twilio's
MediaUrl). The link is signed (HMAC with SECRET_KEY), expires, and serves its file once: 404
for a link this service did not sign, 410 once used, expired or replaced by a new attempt."""

from __future__ import annotations

import hashlib
import tempfile
from typing import cast
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request, send_file

from service.domain import media, outbound
from service.domain.ports import ChatPlatformError, ChatPlatformUnavailable, Ports
from service.extensions import db

bp = Blueprint("media", __name__)


@bp.route("/media/<token>", methods=["GET", "HEAD"])
def serve(token: str) -> Response:
    """The file, streamed through a temporary file from Rocket.Chat (never stored here).
    HEAD answers its type and size without using the link up (Twilio checks with HEAD).

    :raise 404: not a link of this service.
    :raise 410: expired, already served, or a newer attempt signed another link.
    """
    wired = cast(Ports, current_app.extensions["ports"])
    now = wired.clock.now()
    try:
        link = media.read_link(current_app.config["SECRET_KEY"], token, now)
    except media.LinkInvalid:
        abort(404)
    except media.LinkExpired:
        abort(410)
    session = db.session()
    row = outbound.media_of_link(session, link.outbound_id, link.attempt)
    if row is None:
        abort(410)
    mime, name = row.media_type or "application/octet-stream", row.media_name or "archivo"
    disposition = {"Content-Disposition": f"inline; filename*=UTF-8''{_quote(name)}"}
    if row.media_size is None:
        abort(410)  # the job records the size before it signs a link
    if request.method == "HEAD":
        headers = {**disposition, "Content-Length": str(row.media_size)}
        return Response(status=200, mimetype=mime, headers=headers)
    # closed by the response once its bytes are sent, or here on a failure
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        wired.chat.download_file(row.media_ref or "", spool, row.media_size)
        spool.seek(0)
        if hashlib.file_digest(spool, "sha256").hexdigest() != row.media_sha256:
            abort(502)  # not the file the job checked against the channel's limits
        if not outbound.take_media_link(session, link.outbound_id, link.attempt, now):
            abort(410)
    except ChatPlatformUnavailable:
        spool.close()
        abort(503)
    except ChatPlatformError:
        spool.close()
        abort(502)
    except Exception:
        spool.close()
        raise
    session.commit()
    spool.seek(0)
    response = send_file(spool, mimetype=mime, max_age=0, conditional=False)
    response.headers.update(disposition)
    response.headers["Cache-Control"] = "no-store"
    return response


def _quote(name: str) -> str:
    return quote(name, safe="")
