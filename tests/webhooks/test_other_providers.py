"""Twilio, Mailgun, Postmark, SendGrid and Rocket.Chat receivers, end to end."""

import hashlib
import hmac
import time

import pytest

from service.models import InboxMessage
from tests import samples

FORM = "application/x-www-form-urlencoded"


# ---- Twilio ---------------------------------------------------------------------------------
def test_twilio_sample_signed_for_the_public_url(client, post):
    # Behind a proxy Flask sees http://localhost/...; PUBLIC_BASE_URL makes it the signed URL.
    response = client.post(
        "/webhooks/twilio",
        data=samples.raw("twilio-whatsapp.form"),
        content_type=FORM,
        headers={"X-Twilio-Signature": samples.TWILIO_SIGNATURE},
    )
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.provider == "twilio" and row.channel == "whatsapp"
    assert row.sender_value == "+525512345678" and row.text == "¿Me pueden llamar?"
    assert post.contacts()[0][0] == "Lucía Gómez"


def test_twilio_bad_signature(client, post):
    response = client.post(
        "/webhooks/twilio",
        data=samples.raw("twilio-whatsapp.form"),
        content_type=FORM,
        headers={"X-Twilio-Signature": "Zm9v"},
    )
    assert response.status_code == 401
    assert post.count(InboxMessage) == 0


def test_twilio_without_public_url_checks_the_seen_url(client, app, monkeypatch, post):
    config = app.config["CARTERAS"]
    monkeypatch.setitem(app.config, "CARTERAS", config.with_overrides(public_base_url=None))
    response = client.post(
        "/webhooks/twilio",
        data=samples.raw("twilio-whatsapp.form"),
        content_type=FORM,
        headers={"X-Twilio-Signature": samples.TWILIO_SIGNATURE},
    )
    assert response.status_code == 401  # signed for https://carteras.example.com, seen on localhost


# ---- Mailgun --------------------------------------------------------------------------------
def mailgun_post(client, body):
    return client.post("/webhooks/email/mailgun", data=body, content_type=FORM)


def test_mailgun_sample_within_the_replay_window(client, post, clock):
    response = mailgun_post(client, samples.raw("mailgun.form"))
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.sender_value == "lucia.gomez@example.com" and row.sender_name == "Lucía Gómez"
    assert row.thread_key == "<out-7781@carteras.example.com>"
    # the same signed token again is a replay
    assert mailgun_post(client, samples.raw("mailgun.form")).status_code == 401
    assert post.count(InboxMessage) == 1


def test_mailgun_old_timestamp_is_refused(client, post):
    # no fixed clock: the sample's timestamp is a year old
    assert mailgun_post(client, samples.raw("mailgun.form")).status_code == 401
    assert post.count(InboxMessage) == 0


def test_mailgun_freshly_signed_multipart_with_attachment(client, post):
    timestamp, token = str(int(time.time())), "tok-" + "a" * 40
    signature = hmac.new(
        samples.MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    data = {
        "sender": "Ana@Example.com",
        "from": "Ana <ana@example.com>",
        "stripped-text": "adjunto",
        "Message-Id": "<m1@example.com>",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }
    files = {
        "attachment-1": (__import__("io").BytesIO(b"%PDF-1.4"), "recibo.pdf", "application/pdf")
    }
    response = client.post(
        "/webhooks/email/mailgun", data={**data, **files}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.sender_value == "ana@example.com"
    assert row.attachments[0]["name"] == "recibo.pdf" and row.attachments[0]["size"] == 8


# ---- Postmark -------------------------------------------------------------------------------
def test_postmark_basic_auth(client, post):
    body = samples.raw("postmark.json")
    refused = client.post(
        "/webhooks/email/postmark",
        data=body,
        content_type="application/json",
        headers={"Authorization": samples.basic("postmark", "wrong")},
    )
    assert refused.status_code == 401
    # the caller is told why (tests/unit/test_rules_signatures.py: every reason)
    assert refused.json["error"]["message"] == "wrong basic auth credentials"
    ok = client.post(
        "/webhooks/email/postmark",
        data=body,
        content_type="application/json",
        headers={"Authorization": samples.basic(*samples.POSTMARK_AUTH)},
    )
    assert ok.status_code == 200
    (row,) = post.rows()
    assert row.sender_value == "rosa@example.com" and row.external_id.startswith("73e6d360")
    assert "Attachments" not in row.payload


# ---- SendGrid -------------------------------------------------------------------------------
def test_sendgrid_non_utf8_email_is_decoded_from_its_charset(client, post):
    response = client.post(
        "/webhooks/email/sendgrid",
        data=samples.raw("sendgrid.multipart"),
        headers={
            "Content-Type": samples.SENDGRID_TYPE,
            "Authorization": samples.basic(*samples.SENDGRID_AUTH),
        },
    )
    assert response.status_code == 200, response.json
    (row,) = post.rows()
    assert row.text == "Necesito una cotización para el año próximo."
    assert row.sender_name == "José Núñez"
    assert post.contacts() == [("José Núñez", [("email", "jose@example.com")], None)]


def test_sendgrid_declared_charset_that_lies_never_crashes(client, post):
    body = samples.raw("sendgrid.multipart").replace(b'"text":"iso-8859-1"', b'"text":"utf-8"')
    body = body.replace(b'"subject":"iso-8859-1"', b'"subject":"klingon-42"')
    response = client.post(
        "/webhooks/email/sendgrid",
        data=body,
        headers={
            "Content-Type": samples.SENDGRID_TYPE,
            "Authorization": samples.basic(*samples.SENDGRID_AUTH),
        },
    )
    assert response.status_code == 200
    assert "cotizaci" in post.rows()[0].text


# ---- Rocket.Chat ----------------------------------------------------------------------------
def rc_post(client, name, token=samples.ROCKETCHAT_TOKEN, body=None):
    return client.post(
        "/webhooks/rocketchat",
        data=body or samples.raw(f"rocketchat/{name}"),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": token} if token else {},
    )


@pytest.mark.parametrize(
    "name",
    [
        "chat-start.json",
        "visitor-message.json",
        "agent-message.json",
        "chat-close.json",
        "offline-message.json",
    ],
)
def test_rocketchat_events_are_stored_with_a_tiny_answer(client, post, name):
    response = rc_post(client, name)
    assert response.status_code == 200 and response.json == {"ok": True}
    (row,) = post.rows()
    assert row.provider == "rocketchat"
    assert rc_post(client, name).status_code == 200  # redelivery
    assert post.count(InboxMessage) == 1


def test_rocketchat_visitor_is_matched_by_its_phone(client, post, make):
    jorge = make.contact("Jorge", phones=["+54 9 11 4440 0011"])
    rc_post(client, "visitor-message.json")
    (row,) = post.rows()
    assert row.contact_id == jorge
    # the visitor's token and email were learnt for next time
    kinds = dict(post.contacts()[0][1])
    assert kinds["rocketchat"] == "3e9b1f0c7a2d4e6f8a0b2c4d6e8f0a1b"
    assert kinds["email"] == "jorge.pereyra@example.com"


def test_rocketchat_echo_of_our_message_is_ignored(client, post):
    body = samples.raw("rocketchat/visitor-message.json").replace(
        b'"_id": "Wq7nB2xKc9LmT4rZe"', b'"_id": "carteras-7"'
    )
    assert rc_post(client, None, body=body).status_code == 200
    (row,) = post.rows()
    assert row.status == "ignored" and row.kind == "echo"
    assert post.contacts() == []


@pytest.mark.parametrize("token", [None, "wrong"])
def test_rocketchat_wrong_token(client, post, token):
    assert rc_post(client, "visitor-message.json", token=token).status_code == 401
    assert post.count(InboxMessage) == 0


def test_every_receiver_refuses_without_its_secret(client, app, monkeypatch):
    config = app.config["CARTERAS"]
    bare = config.with_overrides(
        twilio_auth_token=None,
        mailgun_signing_key=None,
        postmark_webhook_user=None,
        sendgrid_webhook_user=None,
        rocketchat_webhook_token=None,
    )
    monkeypatch.setitem(app.config, "CARTERAS", bare)
    for path in (
        "/webhooks/twilio",
        "/webhooks/email/mailgun",
        "/webhooks/email/postmark",
        "/webhooks/email/sendgrid",
        "/webhooks/rocketchat",
    ):
        response = client.post(path, data=b"{}", content_type="application/json")
        assert response.status_code == 503, path
        assert response.json["error"]["code"] == "unavailable"


def test_wrong_media_types_are_415(client):
    cases = [
        ("/webhooks/twilio", "application/json"),
        ("/webhooks/email/postmark", FORM),
        ("/webhooks/email/sendgrid", FORM),
        ("/webhooks/rocketchat", "text/plain"),
        ("/webhooks/email/mailgun", "application/json"),
    ]
    for path, content_type in cases:
        assert client.post(path, data=b"x", content_type=content_type).status_code == 415, path
