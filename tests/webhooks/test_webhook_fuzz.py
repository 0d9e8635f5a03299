"""Signed deliveries to every webhook, through the app and the database, with hostile values
where text belongs: never a 5xx, and what a 200 stored carries no NUL and no lone surrogate."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from service.extensions import db
from service.models import DeliveryStatus, InboxMessage
from tests import samples
from tests.webhooks.conftest import sign_whatsapp
from webhooks.signatures import hmac_hex

FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BOUNDARY = "fuzzboundary"

# Text a database refuses or a parser trips on: NUL and other controls, lone surrogates,
# dates out of any calendar, escape sequences.
NASTY = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff\ud83dy",
    "\x1b[31m\x07\x08",
    "9999-99-99",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "+1abc",
    "whatsapp:+1415abc1234",
    "",
]
hostile_text = st.sampled_from(NASTY) | st.text(st.characters(exclude_categories=()), max_size=12)
hostile = st.one_of(
    hostile_text,
    st.sampled_from([10**20, -(10**20), 2**63, -1, 0, 1.5e308, True, None]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(hostile_text, max_size=3),
    st.dictionaries(hostile_text, hostile_text, max_size=3),
)


def set_path(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        document = document[key]
    document[path[-1]] = value


def strings(value: Any) -> list[str]:
    """Every string of a stored JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [*strings(k), *strings(v)]]
    if isinstance(value, list):
        return [t for v in value for t in strings(v)]
    return []


def check(post: Any, response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    event(f"HTTP {response.status_code}")
    if response.status_code != 200:
        return
    with post.app.app_context():
        rows = list(db.session.scalars(sa.select(InboxMessage)))
        receipts = list(db.session.scalars(sa.select(DeliveryStatus)))
        texts = [
            text
            for row in rows
            for text in [
                row.text,
                row.sender_name,
                row.sender_value,
                row.sender_raw,
                row.external_id,
                row.recipient,
                row.thread_key,
                row.kind,
                *strings(row.payload),
                *strings(row.attachments),
            ]
        ]
        texts += [t for r in receipts for t in [r.message_id, r.recipient, *strings(r.errors)]]
        for text in texts:
            if text is not None:
                assert "\x00" not in text, text
                text.encode("utf-8")  # raises on a lone surrogate
        db.session.remove()


# ---- JSON providers --------------------------------------------------------------------------
WHATSAPP_PATHS = [
    ("entry", 0, "changes", 0, "value", "messages", 0, "text", "body"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "from"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "id"),
    ("entry", 0, "changes", 0, "value", "messages", 0, "timestamp"),
    ("entry", 0, "changes", 0, "value", "messages", 1, "reaction", "emoji"),
    ("entry", 0, "changes", 0, "value", "contacts", 0, "profile", "name"),
    ("entry", 0, "changes", 0, "value", "contacts", 0, "wa_id"),
    ("entry", 0, "changes", 0, "value", "metadata", "phone_number_id"),
    ("entry", 1, "changes", 0, "value", "messages", 0, "interactive", "button_reply", "title"),
]


@FUZZ
@given(path=st.sampled_from(WHATSAPP_PATHS), value=hostile, ascii_only=st.booleans())
def test_whatsapp(post, path, value, ascii_only):
    document = json.loads(samples.raw("whatsapp-batch.json"))
    set_path(document, path, value)
    body = json.dumps(document, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    check(post, post.whatsapp(body, sign_whatsapp(body)))


POSTMARK_PATHS = [
    ("FromFull", "Email"),
    ("FromFull", "Name"),
    ("TextBody",),
    ("MessageID",),
    ("Date",),
    ("OriginalRecipient",),
    ("Headers", 0, "Value"),
    ("Attachments", 0, "Name"),
    ("Attachments", 0, "ContentLength"),
]


@FUZZ
@given(path=st.sampled_from(POSTMARK_PATHS), value=hostile)
def test_postmark(client, post, path, value):
    document = json.loads(samples.raw("postmark.json"))
    set_path(document, path, value)
    response = client.post(
        "/webhooks/email/postmark",
        data=json.dumps(document).encode(),
        content_type="application/json",
        headers={"Authorization": samples.basic(*samples.POSTMARK_AUTH)},
    )
    check(post, response)


ROCKETCHAT_PATHS = [
    ("messages", 0, "msg"),
    ("messages", 0, "_id"),
    ("messages", 0, "ts"),
    ("visitor", "token"),
    ("visitor", "name"),
    ("visitor", "phone", 0, "phoneNumber"),
    ("visitor", "email", 0, "address"),
    ("_id",),
    ("createdAt",),
    ("departmentId",),
]


@FUZZ
@given(path=st.sampled_from(ROCKETCHAT_PATHS), value=hostile)
def test_rocketchat(client, post, path, value):
    document = json.loads(samples.raw("rocketchat/visitor-message.json"))
    set_path(document, path, value)
    response = client.post(
        "/webhooks/rocketchat",
        data=json.dumps(document).encode(),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    check(post, response)


# ---- form providers: values are text, so non-strings arrive written out --------------------
def form_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def urlencoded(fields: dict[str, str]) -> bytes:
    # surrogatepass: a lone surrogate goes out as the invalid UTF-8 a broken client sends
    return urllib.parse.urlencode(fields, errors="surrogatepass").encode()


@FUZZ
@given(
    name=st.sampled_from(["Body", "From", "ProfileName", "MessageSid", "NumMedia", "To"]),
    value=hostile,
)
def test_twilio(client, post, name, value):
    fields = dict(urllib.parse.parse_qsl(samples.raw("twilio-whatsapp.form").decode()))
    fields[name] = form_value(value)
    body = urlencoded(fields)
    # signed over what the receiver will read back, so most examples get past the signature
    seen = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(samples.TWILIO_TOKEN).compute_signature(samples.TWILIO_URL, seen)
    response = client.post(
        "/webhooks/twilio",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    check(post, response)


@FUZZ
@given(
    name=st.sampled_from(["sender", "from", "stripped-text", "subject", "Message-Id", "recipient"]),
    value=hostile,
)
def test_mailgun(client, post, name, value):
    timestamp, token = str(int(time.time())), secrets.token_hex(20)
    fields = {
        "sender": "ana@example.com",
        "from": "Ana <ana@example.com>",
        "stripped-text": "hola",
        "Message-Id": f"<{token}@example.com>",
        name: form_value(value),
        "timestamp": timestamp,
        "token": token,
        "signature": hmac_hex(samples.MAILGUN_KEY, (timestamp + token).encode()),
    }
    response = client.post(
        "/webhooks/email/mailgun",
        data=urlencoded(fields),
        content_type="application/x-www-form-urlencoded",
    )
    check(post, response)


def multipart(fields: dict[str, bytes]) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + data
        + b"\r\n"
        for name, data in fields.items()
    ]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@FUZZ
@given(
    name=st.sampled_from(["from", "to", "text", "subject", "headers", "envelope", "charsets"]),
    value=hostile,
    raw_bytes=st.binary(max_size=8),
)
def test_sendgrid(client, post, name, value, raw_bytes):
    fields = {
        "headers": b"Message-ID: <sg-fuzz@mail.example.com>\r\nSubject: x\r\n",
        "from": b"Ana <ana@example.com>",
        "to": b"soporte@carteras.example.com",
        "text": b"hola",
        "subject": b"x",
        "envelope": b'{"from": "ana@example.com"}',
        "charsets": b'{"text": "utf-8"}',
    }
    fields[name] = form_value(value).encode("utf-8", "surrogatepass") + raw_bytes
    response = client.post(
        "/webhooks/email/sendgrid",
        data=multipart(fields),
        headers={
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Authorization": samples.basic(*samples.SENDGRID_AUTH),
        },
    )
    check(post, response)
