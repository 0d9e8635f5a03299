"""Fake channel APIs on loopback for reply tests: WhatsApp Cloud API, Twilio, an SMTP sink."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import itertools
import socket
import threading
from typing import Any

import requests
from aiosmtpd.controller import Controller
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from tests.fake_rocketchat import _QuietHandler

MB = 1024 * 1024


class _Served:
    def __init__(self, app: Flask) -> None:
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.sent: list[dict[str, Any]] = []
        self.fail_with: list[int] = []  # statuses to answer next, one per call

    def __enter__(self) -> _Served:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _failure(self) -> Any:
        if self.fail_with:
            status = self.fail_with.pop(0)
            return jsonify({"error": {"message": "boom", "code": status}}), status
        return None


class FakeWhatsApp(_Served):
    TOKEN = "test-wa-access-token"

    def __init__(self) -> None:
        app = Flask("fake_whatsapp")
        ids = itertools.count(1)

        @app.post("/v21.0/<phone_number_id>/messages")
        def messages(phone_number_id: str) -> Any:
            if request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
                return jsonify({"error": {"message": "Invalid OAuth access token"}}), 401
            failure = self._failure()
            if failure is not None:
                return failure
            body = request.get_json()
            refused = self._refuse(body)  # the 24-hour window, unknown media (issue 17)
            if refused is not None:
                return refused
            self.sent.append({"phone_number_id": phone_number_id, **body})
            return jsonify(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": f"wamid.OUT{next(ids)}"}],
                }
            )

        self._media_api(app)
        super().__init__(app)

    # ---- media and the 24-hour window (issue 17) ------------------------------------------
    # WhatsApp Cloud API media reference: the types each message type takes and their limits.
    MEDIA_LIMITS: dict[str, int] = {  # noqa: RUF012
        "image/jpeg": 5 * MB,
        "image/png": 5 * MB,
        "video/mp4": 16 * MB,
        "video/3gpp": 16 * MB,
        "audio/aac": 16 * MB,
        "audio/amr": 16 * MB,
        "audio/mpeg": 16 * MB,
        "audio/mp4": 16 * MB,
        "audio/ogg": 16 * MB,
        "text/plain": 100 * MB,
        "application/pdf": 100 * MB,
        "application/msword": 100 * MB,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * MB,
        "application/vnd.ms-excel": 100 * MB,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * MB,
        "application/vnd.ms-powerpoint": 100 * MB,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * MB,
    }

    def close_window(self, wa_id: str) -> None:
        """The customer last wrote more than 24 hours ago: free-form messages get 131047."""
        self.closed_windows.add(wa_id)

    @staticmethod
    def graph_error(code: int, message: str, details: str, status: int = 400) -> Any:
        """A Graph API error as the Cloud API answers it."""
        return jsonify(
            {
                "error": {
                    "message": f"(#{code}) {message}",
                    "type": "OAuthException",
                    "code": code,
                    "error_data": {"messaging_product": "whatsapp", "details": details},
                    "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
                }
            }
        ), status

    def _refuse(self, body: dict[str, Any]) -> Any:
        kind = body.get("type")
        if kind != "template" and body.get("to") in self.closed_windows:
            return self.graph_error(
                131047,
                "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the "
                "customer last replied to this number.",
            )
        content = body.get(kind) if isinstance(kind, str) else None
        if kind in ("image", "video", "audio", "document", "sticker"):
            if not isinstance(content, dict) or ("id" in content) == ("link" in content):
                return self.graph_error(
                    100, "Invalid parameter", f"{kind} needs exactly one of id or link"
                )
            if "id" in content and content["id"] not in self.media:
                return self.graph_error(131053, "Media upload error", "Unknown media id")
            if "caption" in content and kind == "audio":
                return self.graph_error(100, "Invalid parameter", "audio takes no caption")
        return None

    def _media_api(self, app: Flask) -> None:
        self.closed_windows: set[str] = set()
        self.media: dict[str, dict[str, Any]] = {}  # media id -> what was uploaded

        @app.post("/v21.0/<phone_number_id>/media")
        def upload(phone_number_id: str) -> Any:
            """POST /{phone-number-id}/media, multipart: messaging_product, type, file."""
            if request.headers.get("Authorization") != f"Bearer {self.TOKEN}":
                return jsonify({"error": {"message": "Invalid OAuth access token"}}), 401
            if request.form.get("messaging_product") != "whatsapp":
                return self.graph_error(100, "Invalid parameter", "messaging_product required")
            file = request.files.get("file")
            if file is None:
                return self.graph_error(100, "Invalid parameter", "file is required")
            mime = (request.form.get("type") or file.mimetype or "").split(";")[0]
            data = file.read()
            limit = self.MEDIA_LIMITS.get(mime)
            if limit is None:
                return self.graph_error(
                    131053, "Media upload error", f"Unsupported file type {mime}"
                )
            if len(data) > limit:
                return self.graph_error(
                    131053,
                    "Media upload error",
                    f"File size {len(data)} is over the {limit // MB} MB limit for {mime}",
                )
            media_id = f"{len(self.media) + 1:016d}"
            self.media[media_id] = {
                "phone_number_id": phone_number_id,
                "type": mime,
                "filename": file.filename,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            return jsonify({"id": media_id})


class FakeTwilio(_Served):
    SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "test-twilio-auth-token"

    def __init__(self) -> None:
        app = Flask("fake_twilio")
        ids = itertools.count(1)

        @app.post("/2010-04-01/Accounts/<sid>/Messages.json")
        def messages(sid: str) -> Any:
            expected = "Basic " + base64.b64encode(f"{self.SID}:{self.TOKEN}".encode()).decode()
            if sid != self.SID or request.headers.get("Authorization") != expected:
                return jsonify({"code": 20003, "message": "Authenticate", "status": 401}), 401
            failure = self._failure()
            if failure is not None:
                return failure
            form = request.form.to_dict()
            if form.get("MediaUrl") is None and not form.get("Body"):
                return jsonify(
                    {"code": 21602, "message": "Message body is required.", "status": 400}
                ), 400
            self.sent.append(form)
            self._fetch_media(request.form.getlist("MediaUrl"))  # issue 17
            return jsonify(
                {
                    "sid": f"SMout{next(ids):030d}",
                    "account_sid": sid,
                    "to": form.get("To"),
                    "from": form.get("From"),
                    "body": form.get("Body"),
                    "status": "queued",
                }
            ), 201

        self.reach: dict[str, str] = {}  # public base URL -> where the test serves it
        self.media_fetches: list[dict[str, Any]] = []
        super().__init__(app)

    # ---- MediaUrl (issue 17) --------------------------------------------------------------
    def _fetch_media(self, urls: list[str]) -> None:
        """Twilio fetches each MediaUrl (HEAD to check its Content-Type, then GET) after it
        accepted the message; a failure shows later as the message's error (11200), not in
        the API's answer. Done here before answering, so a test sees it at once."""
        for url in urls:
            target = url
            for public, local in self.reach.items():
                if url.startswith(public):
                    target = local + url[len(public) :]
            head = requests.head(target, timeout=5)
            got = requests.get(target, timeout=5)
            self.media_fetches.append(
                {
                    "url": url,
                    "head_status": head.status_code,
                    "status": got.status_code,
                    "content_type": got.headers.get("Content-Type"),
                    "disposition": got.headers.get("Content-Disposition"),
                    "body": got.content if got.status_code == 200 else None,
                }
            )


class SmtpSink:
    """A local SMTP server (aiosmtpd) keeping every message it receives."""

    def __init__(self) -> None:
        # The listening socket is bound here and handed to the server: the port is ours from
        # the start, never probed, released and hoped for.
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.messages: list[bytes] = []
        self.recipients: list[list[str]] = []  # the envelope's RCPT TO of each message
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                sink.messages.append(envelope.content)
                sink.recipients.append(list(envelope.rcpt_tos))
                return "250 OK"

        self.controller = _BoundController(listener, Handler(), hostname="127.0.0.1")

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()

    def attachments(self, index: int = -1) -> list[tuple[str | None, str, bytes]]:
        """(filename, content type, bytes) of each attachment of a received message."""
        message = email.message_from_bytes(self.messages[index], policy=email.policy.default)
        return [
            (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in message.iter_attachments()
        ]


class _BoundController(Controller):
    """aiosmtpd's threaded controller serving on a socket that is already bound."""

    def __init__(self, listener: socket.socket, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, port=listener.getsockname()[1], **kwargs)
        self.listener = listener

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self.listener)

    def stop(self, *args: Any, **kwargs: Any) -> None:
        super().stop(*args, **kwargs)
        self.listener.close()
