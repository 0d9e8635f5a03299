"""Fakes of the channels' media downloads, answering as the real services do.

- ``FakeGraphMedia``: WhatsApp Cloud API media (Graph API "Media" reference): ``GET /{version}/
  {media-id}`` with the access token gives ``{url, mime_type, sha256, file_size, id,
  messaging_product}``; the URL works only with the same token and lapses after minutes
  (``url_ttl``); an unknown or expired id answers 400 with a GraphMethodException (code 100).
- ``FakeTwilioMedia``: a message's ``MediaUrl`` on api.twilio.com, behind the account's HTTP
  basic auth when the account protects its media, redirecting to the storage host.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.serving import make_server

from tests.fake_rocketchat import _QuietHandler


class _Server:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeGraphMedia(_Server):
    TOKEN = "graph-test-token"

    def __init__(self, url_ttl: float = 300.0) -> None:
        self.media: dict[str, tuple[bytes, str]] = {}
        self.url_ttl = url_ttl
        self.issued: dict[str, tuple[str, float]] = {}
        self.downloads = 0
        self._ids = itertools.count(1)
        app = Flask("fake_graph_media")
        app.add_url_rule("/v21.0/<media_id>", view_func=self._info, methods=["GET"])
        app.add_url_rule("/download/<key>", view_func=self._download, methods=["GET"])
        super().__init__(app)

    def add(self, data: bytes, mime: str) -> str:
        media_id = f"{next(self._ids):015d}"
        self.media[media_id] = (data, mime)
        return media_id

    def _authorized(self) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.TOKEN}"

    def _info(self, media_id: str) -> Any:
        if not self._authorized():
            return jsonify({"error": {"message": "Invalid OAuth access token.", "code": 190}}), 401
        found = self.media.get(media_id)
        if found is None:
            return jsonify(
                {
                    "error": {
                        "message": f"Unsupported get request. Object with ID '{media_id}' "
                        "does not exist",
                        "type": "GraphMethodException",
                        "code": 100,
                        "error_subcode": 33,
                    }
                }
            ), 400
        data, mime = found
        key = f"{media_id}-{next(self._ids)}"
        self.issued[key] = (media_id, time.monotonic() + self.url_ttl)
        return jsonify(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/download/{key}",
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    def _download(self, key: str) -> Any:
        if not self._authorized():
            return "", 401
        media_id, expires = self.issued.get(key, ("", 0.0))
        if media_id not in self.media or time.monotonic() > expires:
            return "", 404
        self.downloads += 1
        data, mime = self.media[media_id]
        return Response(data, mimetype=mime)


class FakeTwilioMedia(_Server):
    SID, TOKEN = "ACtest", "twilio-test-token"

    def __init__(self, protected: bool = True) -> None:
        self.protected = protected
        self.files: dict[str, tuple[bytes, str]] = {}
        self.fetches: list[str] = []
        app = Flask("fake_twilio_media")
        app.add_url_rule(
            "/2010-04-01/Accounts/<sid>/Messages/<mm>/Media/<me>",
            view_func=self._media,
            methods=["GET"],
        )
        app.add_url_rule("/storage/<me>", view_func=self._storage, methods=["GET"])
        super().__init__(app)

    def add(self, data: bytes, mime: str, me: str = "ME1") -> str:
        self.files[me] = (data, mime)
        return f"{self.url}/2010-04-01/Accounts/{self.SID}/Messages/MM1/Media/{me}"

    def _media(self, sid: str, mm: str, me: str) -> Any:
        auth = request.authorization
        if self.protected and (
            auth is None or (auth.username, auth.password) != (self.SID, self.TOKEN)
        ):
            return "", 401
        if me not in self.files:
            return "", 404
        self.fetches.append(me)
        return redirect(f"{self.url}/storage/{me}", code=307)

    def _storage(self, me: str) -> Any:
        data, mime = self.files[me]
        return Response(data, mimetype=mime)
