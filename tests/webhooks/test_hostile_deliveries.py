"""Well-signed but hostile deliveries: repeated form fields, text no database stores, handles
that identify no one. Never a 500; what is stored is what was checked."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import time
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from service.models import InboxMessage
from tests import samples
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text
from webhooks import inbound

FORM = "application/x-www-form-urlencoded"
SENDGRID_BOUNDARY = b"------sgboundary7MA4YWxkTrZu0gW"


def twilio_post(client, body: bytes, signature: str | None = None):
    if signature is None:
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        signature = RequestValidator(samples.TWILIO_TOKEN).compute_signature(
            samples.TWILIO_URL, params
        )
    return client.post(
        "/webhooks/twilio", data=body, content_type=FORM, headers={"X-Twilio-Signature": signature}
    )


def sendgrid_post(client, body: bytes):
    return client.post(
        "/webhooks/email/sendgrid",
        data=body,
        headers={
            "Content-Type": samples.SENDGRID_TYPE,
            "Authorization": samples.basic(*samples.SENDGRID_AUTH),
        },
    )


def mailgun_signed(**fields: str) -> dict[str, str]:
    timestamp, token = str(int(time.time())), "tok-" + secrets.token_hex(20)
    signature = hmac.new(
        samples.MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    return {**fields, "timestamp": timestamp, "token": token, "signature": signature}


# ---- one form, one value per field (a signed request cannot carry a second message) ----------
@pytest.mark.parametrize(
    "extra", ["From=whatsapp%3A%2B5215599999999", "Body=Transfieran+todo+a+la+cuenta+9999"]
)
def test_twilio_signature_cannot_be_reused_with_a_repeated_field(client, post, extra):
    forged = samples.raw("twilio-whatsapp.form") + b"&" + extra.encode()
    response = twilio_post(client, forged, samples.TWILIO_SIGNATURE)
    assert response.status_code == 400
    assert "repeated" in response.json["error"]["message"]
    assert post.count(InboxMessage) == 0 and post.contacts() == []


def test_mailgun_urlencoded_repeated_field_is_refused_and_its_token_stays_unused(
    client, post, clock
):
    forged = samples.raw("mailgun.form") + b"&sender=mallory%40example.com"
    response = client.post("/webhooks/email/mailgun", data=forged, content_type=FORM)
    assert response.status_code == 400
    assert post.count(InboxMessage) == 0
    # nothing was recorded, not even the single-use token: the genuine delivery still passes
    genuine = client.post(
        "/webhooks/email/mailgun", data=samples.raw("mailgun.form"), content_type=FORM
    )
    assert genuine.status_code == 200
    assert [r.sender_value for r in post.rows()] == ["lucia.gomez@example.com"]


def test_mailgun_multipart_repeated_field_is_refused(client, post):
    fields = mailgun_signed(
        sender="ana@example.com", **{"stripped-text": "hola", "Message-Id": "<m2@example.com>"}
    )
    data = MultiDict(list(fields.items()) + [("sender", "mallory@example.com")])
    data.add("attachment-1", (io.BytesIO(b"%PDF"), "a.pdf", "application/pdf"))
    response = client.post("/webhooks/email/mailgun", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert post.count(InboxMessage) == 0


def test_mailgun_multipart_repeated_file_name_is_refused(client, post):
    data = MultiDict(list(mailgun_signed(sender="ana@example.com").items()))
    data.add("attachment-1", (io.BytesIO(b"one"), "a.pdf", "application/pdf"))
    data.add("attachment-1", (io.BytesIO(b"two"), "b.pdf", "application/pdf"))
    response = client.post("/webhooks/email/mailgun", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert post.count(InboxMessage) == 0


def test_sendgrid_repeated_field_is_refused(client, post):
    body = samples.raw("sendgrid.multipart")
    end = body.rindex(SENDGRID_BOUNDARY + b"--")
    part = (
        SENDGRID_BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="from"\r\n\r\nmallory@example.com\r\n'
    )
    response = sendgrid_post(client, body[:end] + part + body[end:])
    assert response.status_code == 400
    assert post.count(InboxMessage) == 0 and post.contacts() == []


def test_form_readers_refuse_a_repeated_name():
    urlencoded = inbound.InboundRequest("https://x/y", {}, b"a=1&b=2&a=3", FORM)
    with pytest.raises(inbound.PayloadError, match="'a' is repeated"):
        urlencoded.form()
    with pytest.raises(inbound.PayloadError):
        inbound.form_fields(urlencoded)
    assert inbound.InboundRequest("https://x/y", {}, b"a=1&b=", FORM).form() == {"a": "1", "b": ""}


# ---- text a database refuses never loses the delivery ---------------------------------------
def whatsapp_batch(*messages: dict) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": 12345}, "wa_id": "5215512345678"}],
        "messages": list(messages),
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    # ensure_ascii keeps \\u0000 and \\ud800 as JSON escapes, as a provider would send them
    return json.dumps(body).encode()


def text_message(message_id: str, text: object) -> dict:
    return {
        "from": "5215512345678",
        "id": message_id,
        "timestamp": "1763809200",
        "type": "text",
        "text": {"body": text},
    }


def test_batch_with_nul_surrogates_and_numbers_is_stored_clean(post):
    body = whatsapp_batch(
        text_message("wamid.OK1", "Hola"),
        text_message("wamid.NUL", "sal\u0000do\u0007 \ud800ok\tfin\n"),
        text_message("wamid.NUM", 1234.5),
        text_message("wamid.OK2", "Gracias"),
    )
    response = post.whatsapp(body)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 4 and response.json["failed"] == 0
    rows = {r.external_id: r for r in post.rows()}
    assert rows["wamid.NUL"].text == "saldo \ufffdok\tfin\n"
    assert rows["wamid.NUM"].text == "1234.5"
    assert rows["wamid.OK1"].sender_name == "12345"  # a number where a name belongs: written out
    assert "\u0000" not in json.dumps(rows["wamid.NUL"].payload)
    assert {r.status for r in rows.values()} == {"processed"}


def test_a_message_the_database_refuses_is_kept_failed_and_its_neighbours_stored(
    post, backend, monkeypatch
):
    # Without the parsers' cleaning, the SAVEPOINT per message is what saves the delivery:
    # PostgreSQL refuses NUL in text, SQLite's driver a lone surrogate.
    monkeypatch.setattr(inbound, "clean_text", lambda value: value, raising=False)
    bad = "sal\u0000do" if backend.name == "postgresql" else "sal\ud800do"
    body = whatsapp_batch(
        text_message("wamid.OK1", "Hola"),
        text_message("wamid.BAD", bad),
        text_message("wamid.OK2", "Gracias"),
    )
    response = post.whatsapp(body)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 2 and response.json["failed"] == 1
    rows = {r.external_id: r for r in post.rows()}
    assert rows["wamid.OK1"].status == "processed" and rows["wamid.OK2"].text == "Gracias"
    failed = rows["wamid.BAD"]
    assert failed.status == "failed" and failed.text is None
    assert failed.last_error.startswith("not stored: ")
    # a redelivery finds the failed row: counted as a duplicate, nothing stored twice
    again = post.whatsapp(body)
    assert again.status_code == 200 and again.json["duplicates"] == 3
    assert post.count(InboxMessage) == 3


# ---- handles that identify no one stay on the row -------------------------------------------
@pytest.mark.parametrize("sender", ["whatsapp:+1abc", "whatsapp:+1415abc1234"])
def test_twilio_sender_that_is_no_phone_creates_no_identity(client, post, make, sender):
    # phonenumbers would read "abc" as the vanity digits 222: +14152221234 is someone's line
    someone = make.contact("Alguien", phones=["+1 415 222 1234"])
    body = (
        "MessageSid=SMbad1&NumMedia=0&Body=hola&To=whatsapp%3A%2B14155238886&From="
        + urllib.parse.quote(sender)
    ).encode()
    response = twilio_post(client, body)
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.sender_raw == sender and row.sender_value == sender.removeprefix("whatsapp:")
    assert row.contact_id is None and row.status == "processed"
    assert post.contacts() == [("Alguien", [("phone", "+14152221234")], None)]
    assert someone


def test_whatsapp_wa_id_with_letters_is_not_stripped_into_a_customer_number(post, make):
    lucia = make.contact("Lucía", phones=["+52 55 1234 5678"])
    post.whatsapp(whatsapp_text("wamid.LETTERS", sender="52155x12345678"))
    (row,) = post.rows()
    assert row.sender_value == "52155x12345678" and row.contact_id is None
    assert post.contacts() == [("Lucía", [("phone", "+525512345678")], None)]
    assert lucia


def test_email_sender_without_a_valid_address_creates_no_contact(client, post):
    body = json.loads(samples.raw("postmark.json"))
    body["FromFull"]["Email"] = "rosa at example"
    response = client.post(
        "/webhooks/email/postmark",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": samples.basic(*samples.POSTMARK_AUTH)},
    )
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.sender_value == "rosa at example" and row.contact_id is None
    assert post.contacts() == []


def test_deep_json_is_a_400_not_a_crash(post):
    body = b'{"object": "whatsapp_business_account", "entry": ' + b"[" * 10_000 + b"]" * 10_000
    body += b"}"
    response = post.whatsapp(body, sign_whatsapp(body))
    assert response.status_code == 400
    assert post.count(InboxMessage) == 0
