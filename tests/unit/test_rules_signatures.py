"""The authenticity checks, rule by rule: which requests pass, and the reason a refused one
is given (the receiver answers 401 with exactly that reason as the error message, and logs
it; see tests/webhooks/test_other_providers.py for one end to end)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from tests import samples
from webhooks import rocketchat, twilio, whatsapp
from webhooks.email import mailgun
from webhooks.inbound import InboundRequest, SignatureError
from webhooks.signatures import check_basic_auth, hmac_hex

FORM = "application/x-www-form-urlencoded"


def request(headers: dict[str, str], raw: bytes = b"{}", url: str = "http://x/") -> InboundRequest:
    return InboundRequest(url=url, headers=headers, raw=raw, content_type=FORM)


def refused(check, *args) -> str:
    with pytest.raises(SignatureError) as caught:
        check(*args)
    return str(caught.value)


# ---- HTTP basic auth (Postmark, SendGrid) ---------------------------------------------------
def basic(credentials: str, scheme: str = "Basic", gap: str = " ") -> dict[str, str]:
    return {"Authorization": scheme + gap + base64.b64encode(credentials.encode()).decode()}


def test_basic_auth_accepts_the_right_user_and_password():
    check_basic_auth(request(basic("postmark:s3cret")), "postmark", "s3cret")
    check_basic_auth(request(basic("postmark:s3cret", scheme="BASIC")), "postmark", "s3cret")


def test_basic_auth_allows_several_spaces_after_the_scheme():
    # RFC 7235: 1*SP between the scheme and the credentials
    check_basic_auth(request(basic("postmark:s3cret", gap="   ")), "postmark", "s3cret")


def test_basic_auth_password_may_contain_colons():
    # RFC 7617: the user id ends at the first colon; the password may hold more
    check_basic_auth(request(basic("postmark:a:b:c")), "postmark", "a:b:c")
    reason = refused(check_basic_auth, request(basic("postmark:a:b:c")), "postmark:a:b", "c")
    assert reason == "wrong basic auth credentials"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, basic("postmark:s3cret", scheme="Bearer")],
)
def test_basic_auth_without_basic_credentials(headers):
    reason = refused(check_basic_auth, request(headers), "postmark", "s3cret")
    assert reason == "basic auth credentials are required"


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64!",
        base64.b64encode(b"postmark:s3cret").decode() + "!!",  # junk is refused, not skipped
        base64.b64encode(b"\xff\xfe:s3cret").decode(),  # not UTF-8
    ],
)
def test_basic_auth_malformed_credentials(encoded):
    headers = {"Authorization": "Basic " + encoded}
    reason = refused(check_basic_auth, request(headers), "postmark", "s3cret")
    assert reason == "malformed basic auth header"


@pytest.mark.parametrize(
    "credentials", ["postmark:wrong", "other:s3cret", "postmark", ":s3cret", "postmark:"]
)
def test_basic_auth_wrong_credentials(credentials):
    reason = refused(check_basic_auth, request(basic(credentials)), "postmark", "s3cret")
    assert reason == "wrong basic auth credentials"


def test_hmac_hex_is_sha256_unless_told():
    assert hmac_hex("k", b"m") == hmac.new(b"k", b"m", hashlib.sha256).hexdigest()
    assert hmac_hex("k", b"m", "sha1") == hmac.new(b"k", b"m", hashlib.sha1).hexdigest()


# ---- WhatsApp -------------------------------------------------------------------------------
def whatsapp_signed(body: bytes, secret: str = samples.WHATSAPP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_whatsapp_signature_is_read_in_either_hex_case_and_around_spaces():
    body = b'{"object": "whatsapp_business_account"}'
    signature = whatsapp_signed(body)
    for header in (signature, "sha256=" + signature[7:].upper(), f"sha256= {signature[7:]} "):
        whatsapp.verify(request({"X-Hub-Signature-256": header}, body), samples.WHATSAPP_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        "SHA256=" + whatsapp_signed(b"{}")[7:],  # the algorithm as Meta writes it, exactly
        whatsapp_signed(b"{}")[7:],  # no algorithm
        whatsapp_signed(b"{}", "another-secret"),
        whatsapp_signed(b"{ }"),
    ],
)
def test_whatsapp_signature_missing_or_wrong(header):
    headers = {} if header is None else {"X-Hub-Signature-256": header}
    reason = refused(whatsapp.verify, request(headers, b"{}"), samples.WHATSAPP_SECRET)
    assert reason == "X-Hub-Signature-256 is missing or wrong"


# ---- Twilio ---------------------------------------------------------------------------------
def twilio_request(fields: dict[str, str], signature: str | None) -> InboundRequest:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    raw = urllib.parse.urlencode(fields).encode()
    return request(headers, raw, url="http://localhost/webhooks/twilio")


def test_twilio_signature_for_the_public_url():
    fields = {"MessageSid": "SM1", "From": "whatsapp:+5215512345678", "Body": "Hola"}
    signature = RequestValidator(samples.TWILIO_TOKEN).compute_signature(samples.TWILIO_URL, fields)
    public = "https://carteras.example.com/"
    twilio.verify(twilio_request(fields, signature), samples.TWILIO_TOKEN, public)
    reason = refused(twilio.verify, twilio_request(fields, signature), samples.TWILIO_TOKEN)
    assert reason == "X-Twilio-Signature does not match"  # signed for another URL than seen
    fields["Body"] = "Adiós"
    reason = refused(twilio.verify, twilio_request(fields, signature), samples.TWILIO_TOKEN, public)
    assert reason == "X-Twilio-Signature does not match"


@pytest.mark.parametrize("signature", [None, ""])
def test_twilio_signature_missing(signature):
    reason = refused(twilio.verify, twilio_request({"MessageSid": "SM1"}, signature), "t")
    assert reason == "X-Twilio-Signature is missing"


# ---- Rocket.Chat ----------------------------------------------------------------------------
def test_rocketchat_livechat_token():
    headers = {"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN}
    rocketchat.verify(request(headers), samples.ROCKETCHAT_TOKEN)
    for headers in ({}, {"X-RocketChat-Livechat-Token": "wrong"}):
        reason = refused(rocketchat.verify, request(headers), samples.ROCKETCHAT_TOKEN)
        assert reason == "X-RocketChat-Livechat-Token is missing or wrong"


# ---- Mailgun --------------------------------------------------------------------------------
NOW = datetime.fromtimestamp(samples.MAILGUN_TIMESTAMP, tz=UTC)


def mailgun_request(timestamp: str | None, token: str | None, signature: str | None = None):
    signed = hmac_hex(samples.MAILGUN_KEY, f"{timestamp or ''}{token or ''}".encode())
    fields = {"timestamp": timestamp, "token": token, "signature": signature or signed}
    raw = urllib.parse.urlencode({k: v for k, v in fields.items() if v is not None}).encode()
    return request({}, raw)


def mailgun_refusal(req: InboundRequest, now: datetime = NOW) -> str:
    return refused(mailgun.verify, req, samples.MAILGUN_KEY, now)


def test_mailgun_returns_the_token_to_use_once():
    req = mailgun_request(str(samples.MAILGUN_TIMESTAMP), "tok-1")
    assert mailgun.verify(req, samples.MAILGUN_KEY, NOW) == "tok-1"


@pytest.mark.parametrize(
    ("timestamp", "token"),
    [(None, "tok-1"), ("", "tok-1"), (str(samples.MAILGUN_TIMESTAMP), None), (None, None)],
)
def test_mailgun_timestamp_and_token_are_required(timestamp, token):
    # refused as incomplete, even when the signature matches what was sent
    reason = mailgun_refusal(mailgun_request(timestamp, token))
    assert reason == "timestamp and token are required"


def test_mailgun_wrong_signature():
    req = mailgun_request(str(samples.MAILGUN_TIMESTAMP), "tok-1", signature="0" * 64)
    assert mailgun_refusal(req) == "the signature does not match"


def test_mailgun_timestamp_that_is_not_a_number():
    assert mailgun_refusal(mailgun_request("soon", "tok-1")) == "the timestamp is not a number"


@pytest.mark.parametrize("offset", [-300, 300])
def test_mailgun_replay_window_includes_its_edges(offset):
    req = mailgun_request(str(samples.MAILGUN_TIMESTAMP + offset), "tok-1")
    assert mailgun.verify(req, samples.MAILGUN_KEY, NOW) == "tok-1"
    assert mailgun.verify(req, samples.MAILGUN_KEY, NOW, window=abs(offset)) == "tok-1"


@pytest.mark.parametrize("offset", [-301, 301])
def test_mailgun_timestamp_outside_the_replay_window(offset):
    req = mailgun_request(str(samples.MAILGUN_TIMESTAMP + offset), "tok-1")
    assert mailgun_refusal(req) == "the timestamp is outside the replay window"
