"""Fake channel APIs on loopback for reply tests: WhatsApp Cloud API, Twilio, an SMTP sink."""

from __future__ import annotations

import base64
import itertools
import socket
import threading
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from tests.fake_rocketchat import _QuietHandler


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
            self.sent.append({"phone_number_id": phone_number_id, **body})
            return jsonify(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": f"wamid.OUT{next(ids)}"}],
                }
            )

        super().__init__(app)


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
            self.sent.append(form)
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

        super().__init__(app)


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
