"""The floor for the webhook benchmark: what any webhook that keeps its promise must do, and
nothing else. A bare WSGI function (no Flask) checks the WhatsApp signature, reads the JSON
and stores the message with the service's own durable statement (``intake._Fused``: the
insert and its notify, committed before the answer) on a raw psycopg connection in
autocommit, one per thread. It does not clean the text, normalize the phone, validate the
shape beyond what it reads, count, log or add headers: a webhook of the service does all
of that, so its rate is below this one's. Not a product path: bench/webhook_ack.py runs it
under the same gunicorn settings to show where the 0.5 x target sits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

from service.domain.intake import _Fused

SECRET = os.environ.get("WHATSAPP_APP_SECRET", "").encode()
DSN = os.environ.get("DATABASE_URL", "").replace("postgresql+psycopg://", "postgresql://")
STATEMENT = _Fused(notify=True)
ANSWER = b'{"ok":true,"accepted":1,"duplicates":0,"statuses":0,"ignored":0,"failed":0}\n'
_local = threading.local()


def _cursor() -> psycopg.Cursor[Any]:
    cursor: psycopg.Cursor[Any] | None = getattr(_local, "cursor", None)
    if cursor is None or cursor.connection.closed:
        cursor = _local.cursor = psycopg.connect(DSN, autocommit=True).cursor()
    return cursor


def _row(body: dict[str, Any]) -> dict[str, Any]:
    value = body["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    now = datetime.now(UTC)
    number = "+" + message["from"]
    return {
        "provider": "meta",
        "channel": "whatsapp",
        "external_id": message["id"],
        "kind": message["type"],
        "sender_kind": "phone",
        "sender_value": number,
        "sender_raw": message["from"],
        "sender_name": value["contacts"][0]["profile"]["name"],
        "other_identities": [],
        "recipient": value["metadata"]["phone_number_id"],
        "thread_key": number,
        "text": message["text"]["body"],
        "attachments": [],
        "payload": {"message": message, "metadata": value["metadata"]},
        "sent_at": now,
        "received_at": now,
        "updated_at": now,
        "status": "pending",
        "attempts": 0,
    }


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    expected = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(environ.get("HTTP_X_HUB_SIGNATURE_256", ""), expected):
        start_response("401 Unauthorized", [("Content-Length", "0")])
        return [b""]
    STATEMENT._insert(_cursor().execute, _row(json.loads(raw))).fetchone()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
    )
    return [ANSWER]
