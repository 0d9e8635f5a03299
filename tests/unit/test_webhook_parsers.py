"""Provider modules on the real signed samples: verify, then parse to InboundMessage."""

import json
from datetime import UTC, datetime

import pytest

from tests import samples
from webhooks import inbound, rocketchat, twilio, whatsapp
from webhooks.email import mailgun, postmark, sendgrid
from webhooks.email.threading import decode_words, thread_key
from webhooks.inbound import InboundRequest, PayloadError, SignatureError


def request(name, headers=None, content_type="application/json", url="http://localhost/x"):
    return InboundRequest(
        url=url, headers=headers or {}, raw=samples.raw(name), content_type=content_type
    )


def tampered(req):
    return InboundRequest(req.url, req.headers, req.raw.replace(b"a", b"b", 1), req.content_type)


# ---- WhatsApp -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(samples.WHATSAPP_SIGNATURES))
def test_whatsapp_signatures_verify_and_tampering_fails(name):
    header = {"X-Hub-Signature-256": "sha256=" + samples.WHATSAPP_SIGNATURES[name]}
    whatsapp.verify(request(name, header), samples.WHATSAPP_SECRET)
    with pytest.raises(SignatureError):
        whatsapp.verify(tampered(request(name, header)), samples.WHATSAPP_SECRET)
    with pytest.raises(SignatureError):
        whatsapp.verify(request(name, header), "another-secret")
    with pytest.raises(SignatureError):
        whatsapp.verify(request(name), samples.WHATSAPP_SECRET)


def test_whatsapp_text():
    delivery = whatsapp.parse(request("whatsapp-text.json"))
    assert delivery.statuses == ()
    (message,) = delivery.messages
    assert message.channel == "whatsapp" and message.provider == "meta"
    assert message.external_id.startswith("wamid.HBgN")
    assert message.sender.raw == "5215512345678"
    assert message.sender_name == "Lucía Gómez"
    assert message.text == "Hola, quiero saber el saldo de mi cuenta"
    assert message.sent_at == datetime.fromtimestamp(1763809200, tz=UTC)
    assert message.recipient == "106540352242922"
    assert message.kind == "text"


def test_whatsapp_image_is_referenced_not_inlined():
    (message,) = whatsapp.parse(request("whatsapp-image.json")).messages
    assert message.kind == "image" and message.text == "comprobante de pago"
    (attachment,) = message.attachments
    assert attachment.ref == "whatsapp-media:1479537139650973"
    assert attachment.content_type == "image/jpeg" and attachment.sha256


def test_whatsapp_status_only_has_no_message():
    delivery = whatsapp.parse(request("whatsapp-status-only.json"))
    assert delivery.messages == ()
    (status,) = delivery.statuses
    assert status.status == "delivered" and status.recipient == "5215512345678"


def test_whatsapp_batch_keeps_every_message_and_its_type():
    messages = whatsapp.parse(request("whatsapp-batch.json")).messages
    assert [(m.external_id, m.kind, m.text) for m in messages] == [
        ("wamid.BATCH0001", "text", "Bom dia"),
        ("wamid.BATCH0002", "reaction", "👍"),
        ("wamid.BATCH0003", "interactive", "Quiero pagar"),
    ]
    assert messages[2].sender_name == "Carlos Méndez"


def test_whatsapp_unknown_type_is_kept():
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
        b'"value":{"messages":[{"from":"5215512345678","id":"wamid.X","timestamp":"1",'
        b'"type":"hologram","hologram":{}}]}}]}]}'
    )
    (message,) = whatsapp.parse(InboundRequest("u", {}, body)).messages
    assert message.kind == "hologram" and message.text is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object":"page"}',
        b'{"object":"whatsapp_business_account",'
        b'"entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"x"}]}}]}]}',
        b'{"object":"whatsapp_business_account","entry":"oops"}',
    ],
)
def test_whatsapp_malformed(body):
    with pytest.raises(PayloadError):
        whatsapp.parse(InboundRequest("u", {}, body))


def test_whatsapp_handshake():
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-verify-token",
        "hub.challenge": "1158201444",
    }
    assert whatsapp.handshake(query, samples.WHATSAPP_VERIFY_TOKEN) == "1158201444"
    with pytest.raises(SignatureError):
        whatsapp.handshake({**query, "hub.verify_token": "wrong"}, samples.WHATSAPP_VERIFY_TOKEN)


# ---- Twilio ---------------------------------------------------------------------------------
def twilio_request(url=samples.TWILIO_URL, signature=samples.TWILIO_SIGNATURE):
    return request(
        "twilio-whatsapp.form",
        {"X-Twilio-Signature": signature},
        "application/x-www-form-urlencoded",
        url,
    )


def test_twilio_signature():
    twilio.verify(twilio_request(), samples.TWILIO_TOKEN)
    with pytest.raises(SignatureError):
        twilio.verify(tampered(twilio_request()), samples.TWILIO_TOKEN)
    with pytest.raises(SignatureError):
        twilio.verify(twilio_request(signature="AAAA"), samples.TWILIO_TOKEN)


def test_twilio_behind_a_proxy_uses_the_public_url():
    internal = twilio_request(url="http://10.0.0.5:8000/webhooks/twilio")
    with pytest.raises(SignatureError):
        twilio.verify(internal, samples.TWILIO_TOKEN)
    twilio.verify(internal, samples.TWILIO_TOKEN, "https://carteras.example.com")


def test_twilio_parse():
    (message,) = twilio.parse(twilio_request()).messages
    assert message.channel == "whatsapp" and message.provider == "twilio"
    assert message.external_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert message.sender.value == "+5215512345678"
    assert message.sender_name == "Lucía Gómez" and message.text == "¿Me pueden llamar?"


def test_twilio_status_callback_and_sms():
    status = InboundRequest("u", {}, b"MessageSid=SM1&MessageStatus=delivered&To=%2B1555")
    assert twilio.parse(status).statuses[0].status == "delivered"
    sms = InboundRequest("u", {}, b"MessageSid=SM2&From=%2B14155552671&Body=hi&SmsStatus=received")
    assert twilio.parse(sms).messages[0].channel == "sms"


# ---- Mailgun --------------------------------------------------------------------------------
MAILGUN_NOW = datetime.fromtimestamp(samples.MAILGUN_TIMESTAMP + 60, tz=UTC)


def mailgun_request():
    return request("mailgun.form", content_type="application/x-www-form-urlencoded")


def test_mailgun_signature_and_replay_window():
    token = mailgun.verify(mailgun_request(), samples.MAILGUN_KEY, MAILGUN_NOW)
    assert token.startswith("3f1e6b2a")
    with pytest.raises(SignatureError, match="replay window"):
        mailgun.verify(mailgun_request(), samples.MAILGUN_KEY, datetime.now(UTC))
    forged = InboundRequest(
        "u",
        {},
        samples.raw("mailgun.form").replace(b"signature=e5", b"signature=f5"),
        "application/x-www-form-urlencoded",
    )
    with pytest.raises(SignatureError):
        mailgun.verify(forged, samples.MAILGUN_KEY, MAILGUN_NOW)


def test_mailgun_parse_decodes_names_and_threads():
    (message,) = mailgun.parse(mailgun_request()).messages
    assert message.sender.value == "lucia.gomez@example.com"
    assert message.sender_name == "Lucía Gómez"
    assert message.external_id == "<CAF=abc123@mail.example.com>"
    assert message.thread_key == "<out-7781@carteras.example.com>"
    assert message.text == "Gracias, ¿cuándo vence el pago?"


# ---- Postmark and SendGrid ------------------------------------------------------------------
def test_postmark():
    req = request("postmark.json", {"Authorization": samples.basic(*samples.POSTMARK_AUTH)})
    postmark.verify(req, *samples.POSTMARK_AUTH)
    with pytest.raises(SignatureError):
        postmark.verify(req, "postmark", "wrong")
    with pytest.raises(SignatureError):
        postmark.verify(request("postmark.json"), *samples.POSTMARK_AUTH)
    (message,) = postmark.parse(req).messages
    assert message.sender.value == "rosa@example.com" and message.sender_name == "Rosa Díaz"
    assert message.text == "Me llegó la factura dos veces."
    assert message.thread_key == "<CAB-rosa-001@mail.example.com>"
    assert message.sent_at == datetime(2026, 11, 22, 16, 5, tzinfo=UTC)
    (attachment,) = message.attachments
    assert attachment.name == "factura.pdf" and attachment.size == 13
    assert "Attachments" not in message.payload  # referenced, not inlined


def test_sendgrid_decodes_each_field_in_its_charset():
    req = request(
        "sendgrid.multipart",
        {"Authorization": samples.basic(*samples.SENDGRID_AUTH)},
        samples.SENDGRID_TYPE,
    )
    sendgrid.verify(req, *samples.SENDGRID_AUTH)
    (message,) = sendgrid.parse(req).messages
    assert message.sender.value == "jose@example.com"
    assert message.sender_name == "José Núñez"
    assert message.text == "Necesito una cotización para el año próximo."
    assert message.payload["subject"] == "Cotización"
    assert message.external_id == "<sg-0001@mail.example.com>"


def test_email_threading_rules():
    assert thread_key("<c@x>", "<b@x>", "<a@x> <b@x>") == "<a@x>"
    assert thread_key("<c@x>", "<b@x>", None) == "<b@x>"
    assert thread_key("<c@x>", None, "") == "<c@x>"
    assert decode_words("=?UNKNOWN-8?Q?Jos=E9?=") is not None  # never raises


# ---- Rocket.Chat ----------------------------------------------------------------------------
def rc(name):
    return request(f"rocketchat/{name}", {"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN})


def test_rocketchat_token():
    rocketchat.verify(rc("visitor-message.json"), samples.ROCKETCHAT_TOKEN)
    with pytest.raises(SignatureError):
        rocketchat.verify(rc("visitor-message.json"), "other")


@pytest.mark.parametrize(
    ("name", "kind", "external_id"),
    [
        ("visitor-message.json", "visitor_message", "Message:Wq7nB2xKc9LmT4rZe"),
        ("agent-message.json", "agent_message", "Message:Hd3sV8pNq1ZkR6tMw"),
        ("chat-start.json", "LivechatSessionStart", "LivechatSessionStart:Rm4tQ8vLx2NpK7cYd:"),
        (
            "chat-close.json",
            "LivechatSession",
            "LivechatSession:Xc8pKq2rTz4mN7bLw:Jq3cN7tLx2WbR9mVs",
        ),
    ],
)
def test_rocketchat_events(name, kind, external_id):
    (message,) = rocketchat.parse(rc(name)).messages
    assert (message.kind, message.external_id) == (kind, external_id)
    assert message.channel == "webchat"
    assert message.sender.kind == "rocketchat"
    assert {i.kind for i in message.other_identities} == {"phone", "email"}


def test_rocketchat_offline_message():
    (message,) = rocketchat.parse(rc("offline-message.json")).messages
    assert message.kind == "offline_message"
    assert message.sender.value == "jorge.ramirez@example.com"


def test_rocketchat_echo_of_our_own_message():
    body = samples.raw("rocketchat/visitor-message.json").replace(
        b'"_id": "Wq7nB2xKc9LmT4rZe"', b'"_id": "carteras-42"'
    )
    (message,) = rocketchat.parse(InboundRequest("u", {}, body)).messages
    assert message.kind == "echo"


# ---- untrusted text and JSON ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("sal\x00do", "saldo"),
        ("a\x07b\x1b[0m\x7f", "ab[0m\x7f"),
        ("tab\tline\ncr\r", "tab\tline\ncr\r"),
        ("lone \ud800 half", "lone \ufffd half"),
        ("\ud83d\ude00", "😀"),  # a valid pair joins into one character
        ("ñandú 😀", "ñandú 😀"),
    ],
)
def test_clean_text_keeps_what_a_person_typed(raw, clean):
    assert inbound.clean_text(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 40 + b"1" + b"}" * 40, b"NaN", b'{"x": Infinity}'],
)
def test_load_json_refuses_deep_nesting_and_non_json_numbers(raw):
    with pytest.raises(PayloadError):
        inbound.load_json(raw)


@pytest.mark.parametrize("as_text", [False, True])
@pytest.mark.parametrize("depth", [1, 31, 32, 33, 40])
def test_load_json_takes_up_to_the_depth_limit_however_few_brackets(depth, as_text):
    raw = "[" * depth + "]" * depth
    if depth > inbound.MAX_JSON_DEPTH:
        with pytest.raises(PayloadError):
            inbound.load_json(raw if as_text else raw.encode())
    else:
        assert inbound.load_json(raw if as_text else raw.encode()) is not None


def test_load_json_counts_brackets_inside_text_as_text():
    """Many brackets (here inside a string) only make the depth be checked in full."""
    body = {"text": "[{" * 50, "deep": [[[["x"]]]]}
    assert inbound.load_json(json.dumps(body).encode("utf-16")) == body


def test_parsers_coerce_numbers_where_text_belongs():
    body = json.loads(samples.raw("whatsapp-text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["profile"]["name"] = 42
    value["messages"][0]["text"]["body"] = "a\x00b"
    value["messages"][0]["id"] = 7
    (message,) = whatsapp.parse(InboundRequest("u", {}, json.dumps(body).encode())).messages
    assert (message.sender_name, message.text, message.external_id) == ("42", "ab", "7")


@pytest.mark.parametrize("sent", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_rocketchat_dates_beyond_the_calendar_fall_back(sent):
    body = json.loads(samples.raw("rocketchat/visitor-message.json"))
    body["messages"][0]["ts"] = sent
    body["createdAt"] = "9999-99-99"
    (message,) = rocketchat.parse(InboundRequest("u", {}, json.dumps(body).encode())).messages
    assert 2000 < message.sent_at.year < 3000
