"""An email reply goes to exactly one address, the customer's, and carries no header the
customer's mail could have smuggled in (CR/LF in the sender, subject or Message-ID)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
import sqlalchemy as sa

from service.adapters.mail_out import SmtpSender
from service.domain.outbound import message_id, reply_address
from service.domain.ports import ChannelRejected, Reply
from service.extensions import db
from service.models import InboxMessage
from tests import samples
from tests.fake_channels import SmtpSink
from tests.integration.test_replies import agent_reply, room_of
from tests.webhooks.conftest import FixedClock

FORM = "application/x-www-form-urlencoded"
INJECTED = "\r\nBcc: intruso@evil.example.com"


@pytest.fixture
def sink(app, monkeypatch):
    monkeypatch.setattr(
        app.extensions["ports"],
        "clock",
        FixedClock(datetime.fromtimestamp(samples.MAILGUN_TIMESTAMP + 30, tz=UTC)),
    )
    with SmtpSink() as smtp:
        monkeypatch.setitem(
            app.extensions["ports"].senders,
            "email",
            SmtpSender("127.0.0.1", smtp.port, "Soporte <soporte@carteras.example.com>", timeout=5),
        )
        yield smtp


def mailgun(client, **changes):
    """The signed Mailgun sample with some fields changed (the signature covers only the
    timestamp and token)."""
    fields = dict(parse_qsl(samples.raw("mailgun.form").decode(), keep_blank_values=True))
    fields.update(changes)
    return client.post("/webhooks/email/mailgun", data=urlencode(fields), content_type=FORM)


@pytest.mark.parametrize(
    "sender",
    [
        "lucia.gomez@example.com, otro@evil.example.com",
        "lucia.gomez@example.com" + INJECTED,
        "Lucía <lucia.gomez@example.com> <otro@evil.example.com>",
    ],
)
def test_a_sender_with_several_addresses_gets_no_reply(
    app, client, rc, coordinator, make, sink, sender
):
    assert mailgun(client).status_code == 200
    # The stored sender as an older intake, or another provider's parser, may have kept it:
    # the reply path must refuse it on its own.
    with app.app_context():
        db.session.execute(
            sa.update(InboxMessage).values(sender_value=sender.lower(), sender_raw=sender)
        )
        db.session.commit()
    agent_reply(client, room_of(coordinator), text="Hola")
    assert sink.messages == []
    (failed,) = coordinator.get("/api/outbox").json["items"]
    assert failed["status"] == "failed" and "ChannelRejected" in failed["last_error"]


def test_threading_headers_are_cleaned_of_line_breaks(app, client, rc, coordinator, make, sink):
    make.contact("Lucía", None, emails=["lucia.gomez@example.com"])
    mailgun(
        client,
        subject="Estado de mi cuenta" + INJECTED,
        **{"Message-Id": "<CAF=abc123@mail.example.com>" + INJECTED},
    )
    agent_reply(client, room_of(coordinator), text="El pago vence el día 30.")
    (raw,) = sink.messages
    assert sink.recipients == [["lucia.gomez@example.com"]]
    message = email.message_from_bytes(raw)
    header_lines = raw.split(b"\r\n\r\n")[0].splitlines()
    assert message["Bcc"] is None
    assert not [line for line in header_lines if line.lower().startswith(b"bcc")]
    assert message["To"] == "lucia.gomez@example.com"
    assert message["Subject"] == "Re: Estado de mi cuenta Bcc: intruso@evil.example.com"
    assert message["In-Reply-To"] == "<CAF=abc123@mail.example.com>"
    assert "intruso" not in message["References"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("lucia.gomez@example.com", "lucia.gomez@example.com"),
        ("Lucía Gómez <Lucia.Gomez@Example.com>", "lucia.gomez@example.com"),
        ('"Gómez, Lucía" <lucia@example.com>', "lucia@example.com"),
    ],
)
def test_reply_address_is_the_one_address(raw, expected):
    assert reply_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "a@x.com, b@y.com",
        "a@x.com;b@y.com",
        "a@x.com" + INJECTED,
        "a@x.com\nb@y.com",
        "Ana <a@x.com> <b@y.com>",
        "a@x.com (b@y.com)",
        "",
        "a@x.com\x00",
    ],
)
def test_anything_but_one_address_is_refused(raw):
    with pytest.raises(ChannelRejected):
        reply_address(raw)


def test_message_ids_keep_their_first_token_only():
    assert message_id("<id@x>" + INJECTED) == "<id@x>"
    assert message_id("\r\n") is None and message_id(None) is None
    assert message_id("<ñ@x>") is None


@pytest.mark.parametrize(
    "reply",
    [
        Reply("r1", "email", "mailgun", "a@x.com, b@y.com", "hola"),
        Reply("r2", "email", "mailgun", "a@x.com" + INJECTED, "hola"),
        Reply("r3", "email", "mailgun", "a@x.com", "hola", subject="Re: x" + INJECTED),
        Reply("r4", "email", "mailgun", "a@x.com", "hola", in_reply_to="<i@x>" + INJECTED),
    ],
)
def test_the_smtp_sender_refuses_what_the_domain_let_through(reply):
    with SmtpSink() as smtp:
        sender = SmtpSender("127.0.0.1", smtp.port, "soporte@carteras.example.com", timeout=5)
        with pytest.raises(ChannelRejected):
            sender.send(reply)
    assert smtp.messages == []
