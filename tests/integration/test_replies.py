"""Agents' replies in Rocket.Chat reach the customer on the conversation's own channel, once."""

from __future__ import annotations

import email

import pytest

from service.adapters.mail_out import SmtpSender
from service.adapters.whatsapp_out import TwilioSender
from tests import samples
from tests.fake_channels import FakeTwilio, SmtpSink
from tests.webhooks.conftest import Posting, whatsapp_text

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def org(make):
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    marta = make.agent("Marta", [team], rocketchat_user_id="u-marta")
    cartera = make.cartera("Premium", team, marta, "💎")
    make.contact("Lucía", cartera, phones=["+52 55 1234 5678"], emails=["lucia.gomez@example.com"])
    return {"marta": marta}


def agent_reply(client, room_id, message_id="Hd3sV8pNq1ZkR6tMw", text="Hola Jorge, ya lo reviso."):
    body = (
        samples.raw("rocketchat/agent-message.json")
        .replace(b"Rm4tQ8vLx2NpK7cYd", room_id.encode())
        .replace(b"Hd3sV8pNq1ZkR6tMw", message_id.encode())
        .replace(b"Hola Jorge, ya lo reviso.", text.encode())
    )
    return client.post(
        "/webhooks/rocketchat",
        data=body,
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )


def room_of(coordinator):
    return coordinator.get("/api/conversations").json["items"][0]["room_id"]


def test_whatsapp_reply_is_sent_once(app, client, rc, whatsapp, coordinator, org):
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    room = room_of(coordinator)
    assert agent_reply(client, room).status_code == 200
    assert agent_reply(client, room).status_code == 200  # Rocket.Chat delivered it twice
    assert whatsapp.sent == [
        {
            "phone_number_id": "106540352242922",
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "5215512345678",
            "type": "text",
            "text": {"preview_url": False, "body": "Hola Jorge, ya lo reviso."},
        }
    ]
    (sent,) = coordinator.get("/api/outbox").json["items"]
    assert sent["status"] == "sent" and sent["provider_message_id"] == "wamid.OUT1"
    assert sent["agent_name"] == "María Gómez"


def test_failed_send_is_kept_and_replayed_once(app, client, rc, whatsapp, coordinator, org):
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    whatsapp.fail_with = [500]
    agent_reply(client, room_of(coordinator))
    (failed,) = coordinator.get("/api/outbox?status=failed").json["items"]
    assert "ChannelUnavailable" in failed["last_error"] and whatsapp.sent == []
    result = app.test_cli_runner().invoke(args=["outbox", "replay", "--all-failed"])
    assert "replayed=1 enqueued=1" in result.output
    assert len(whatsapp.sent) == 1
    assert coordinator.get("/api/outbox?status=sent").json["total"] == 1
    app.test_cli_runner().invoke(args=["outbox", "replay", "--id", str(failed["id"])])
    assert len(whatsapp.sent) == 1  # already sent: nothing more


def test_a_refused_reply_fails_at_once(app, client, rc, whatsapp, coordinator, org):
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    whatsapp.fail_with = [400]
    agent_reply(client, room_of(coordinator))
    (failed,) = coordinator.get("/api/outbox").json["items"]
    assert failed["status"] == "failed" and "ChannelRejected" in failed["last_error"]


def test_twilio_reply(app, client, rc, coordinator, monkeypatch, org):
    with FakeTwilio() as twilio:
        monkeypatch.setitem(
            app.extensions["ports"].senders,
            "twilio",
            TwilioSender(FakeTwilio.SID, FakeTwilio.TOKEN, twilio.url),
        )
        response = client.post(
            "/webhooks/twilio",
            data=samples.raw("twilio-whatsapp.form"),
            content_type=FORM,
            headers={"X-Twilio-Signature": samples.TWILIO_SIGNATURE},
        )
        assert response.status_code == 200
        agent_reply(client, room_of(coordinator), text="Claro, le llamamos hoy.")
        assert twilio.sent == [
            {
                "To": "whatsapp:+5215512345678",
                "From": "whatsapp:+14155238886",
                "Body": "Claro, le llamamos hoy.",
            }
        ]


def test_email_reply_threads_with_the_customer(app, client, rc, coordinator, monkeypatch, org):
    from tests.webhooks.conftest import FixedClock

    monkeypatch.setattr(
        app.extensions["ports"],
        "clock",
        FixedClock(
            __import__("datetime").datetime.fromtimestamp(
                samples.MAILGUN_TIMESTAMP + 30, tz=__import__("datetime").UTC
            )
        ),
    )
    with SmtpSink() as sink:
        monkeypatch.setitem(
            app.extensions["ports"].senders,
            "email",
            SmtpSender(
                "127.0.0.1",
                sink.port,
                "Soporte <soporte@carteras.example.com>",
                starttls=False,
                timeout=5,
            ),
        )
        client.post("/webhooks/email/mailgun", data=samples.raw("mailgun.form"), content_type=FORM)
        agent_reply(client, room_of(coordinator), text="El pago vence el día 30.")
        (raw,) = sink.messages
    message = email.message_from_bytes(raw)
    assert message["To"] == "lucia.gomez@example.com"
    assert message["Subject"] == "Re: Estado de mi cuenta"
    assert message["In-Reply-To"] == "<CAF=abc123@mail.example.com>"
    assert message["References"].split() == [
        "<out-7781@carteras.example.com>",
        "<CAF=abc123@mail.example.com>",
    ]
    assert "El pago vence el día 30." in message.get_payload(decode=True).decode()


def test_chats_born_in_rocketchat_are_not_relayed(app, client, rc, coordinator, make, org):
    make.contact("Jorge", None, phones=["+54 9 11 4440 0011"])
    client.post(
        "/webhooks/rocketchat",
        data=samples.raw("rocketchat/chat-start.json"),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    agent_reply(client, "Rm4tQ8vLx2NpK7cYd")
    assert coordinator.get("/api/outbox").json["total"] == 0


def test_an_agent_leaves_and_a_colleague_takes_over(
    app, client, rc, whatsapp, coordinator, make, monkeypatch
):
    from tests.fakes import FakeLiveBadges

    badges = FakeLiveBadges()
    monkeypatch.setattr(app.extensions["ports"], "badges", badges)
    rc.add_agent("u-luis", "luis", online=True)
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis")
    marta = make.agent("Marta", [team], rocketchat_user_id="u-marta")
    premium = make.cartera("Premium", team, luis, "💎")
    oro = make.cartera("Oro", team, luis, "👑")
    lucia = make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    make.contact("Pedro", oro, phones=["+52 55 8765 4321"])

    # Luis leaves: one call moves both carteras to Marta
    done = coordinator.post(
        f"/api/agents/{luis}/handover", {"to_agent_id": marta, "deactivate_agent": True}
    )
    assert sorted(c["name"] for c in done.json["carteras"]) == ["Oro", "Premium"]

    # the next WhatsApp message of one of those customers reaches Marta with the badge
    Posting(client, app).whatsapp(whatsapp_text("wamid.after", sender="5215512345678"))
    conversation = coordinator.get("/api/conversations").json["items"][0]
    assert conversation["agent"]["name"] == "Marta" and conversation["reason"] == "owner_agent"
    payload, rooms = badges.sent[-1]
    assert rooms[0] == f"agent:{marta}" and payload["cartera"]["name"] == "Premium"

    # the contact's history shows both owners
    timeline = coordinator.get(f"/api/contacts/{lucia}/history").json["timeline"]
    owners = [
        e["after"]["agent"]["name"]
        for e in timeline
        if e["type"] == "owner_change" and e["after"]["agent"]
    ]
    assert owners == ["Luis", "Marta"]

    # Marta's reply in Rocket.Chat arrives at the WhatsApp API as one send
    agent_reply(client, conversation["room_id"], text="Hola Lucía, soy Marta.")
    agent_reply(client, conversation["room_id"], text="Hola Lucía, soy Marta.")
    assert [m["text"]["body"] for m in whatsapp.sent] == ["Hola Lucía, soy Marta."]


def agent_event(client, room_id: str, message: dict) -> object:
    import json

    body = json.loads(samples.raw("rocketchat/agent-message.json"))
    body["_id"] = room_id
    body["messages"] = [{**body["messages"][0], "rid": room_id, **message}]
    return client.post(
        "/webhooks/rocketchat",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )


def test_an_agents_edit_reaches_the_customer_as_a_correction(
    app, client, rc, whatsapp, coordinator, org
):
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    room = room_of(coordinator)
    agent_event(client, room, {"_id": "m-1", "msg": "Su saldo es 100"})
    # Rocket.Chat sends the edit as a Message event with the same _id and editedAt
    edit = {"_id": "m-1", "msg": "Su saldo es 1000", "editedAt": "2025-05-20T13:13:00.000Z"}
    assert agent_event(client, room, edit).status_code == 200
    assert agent_event(client, room, edit).status_code == 200  # delivered twice: sent once
    bodies = [m["text"]["body"] for m in whatsapp.sent]
    assert bodies == ["Su saldo es 100", "Corrección: Su saldo es 1000"]
