"""Agents' files reach the customer as files (issue 17, item 2), and the WhatsApp 24-hour
window is shown and answered with an approved template (item 3): against fakes that follow
the real services (tests/fake_channels.py, tests/fake_rocketchat.py)."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from service.adapters.mail_out import SmtpSender
from service.adapters.whatsapp_out import TwilioSender
from service.domain import media
from tests import samples
from tests.fake_channels import FakeTwilio, FakeWhatsApp, SmtpSink
from tests.fake_rocketchat import _QuietHandler
from tests.webhooks.conftest import FixedClock, Posting, whatsapp_text

FORM = "application/x-www-form-urlencoded"
CUSTOMER = "5215512345678"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
NOTICE = "La ventana de 24 horas cerró; use una plantilla"


@pytest.fixture
def files_readable(rc):
    """Rocket.Chat set up as the README says: the service's user reads the files of the rooms
    it can access (it is a livechat-manager, not a member of the rooms)."""
    rc.settings["FileUpload_Restrict_to_room_members"] = False
    rc.settings["FileUpload_Restrict_to_users_who_can_access_room"] = True
    return rc


@pytest.fixture
def org(make):
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    marta = make.agent("Marta", [team], rocketchat_user_id="u-marta")
    cartera = make.cartera("Premium", team, marta, "💎")
    make.contact("Lucía", cartera, phones=["+52 55 1234 5678"], emails=["lucia.gomez@example.com"])


def agent_event(client, room_id: str, message: dict) -> object:
    body = json.loads(samples.raw("rocketchat/agent-message.json"))
    body["_id"] = room_id
    body["messages"] = [{**body["messages"][0], "rid": room_id, **message}]
    return client.post(
        "/webhooks/rocketchat",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )


def file_message(rc, room: str, name: str, mime: str, data: bytes, text: str = "") -> dict:
    """An agent's message with one uploaded file, as sendToCRM.ts posts it."""
    ref = rc.add_file(room, name, mime, data)
    file_id = ref.split("/")[2]
    return {
        "_id": f"m-{file_id}",
        "msg": text,
        "file": {"_id": file_id, "name": name, "type": mime},
        "attachments": [{"title": name, "title_link": ref, "type": "file"}],
    }


def customer_writes(client, app, coordinator) -> str:
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender=CUSTOMER))
    return coordinator.get("/api/conversations").json["items"][0]["room_id"]


def only_reply(coordinator) -> dict:
    (row,) = coordinator.get("/api/outbox").json["items"]
    return row


def test_a_pdf_goes_to_whatsapp_uploaded_then_sent_by_id(
    app, client, rc, files_readable, whatsapp, coordinator, org
):
    room = customer_writes(client, app, coordinator)
    message = file_message(rc, room, "estado.pdf", "application/pdf", PDF, "Su estado de cuenta")
    assert agent_event(client, room, message).status_code == 200

    ((media_id, uploaded),) = whatsapp.media.items()
    assert uploaded == {
        "phone_number_id": "106540352242922",
        "type": "application/pdf",
        "filename": "estado.pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    (sent,) = whatsapp.sent
    assert sent["type"] == "document" and sent["to"] == CUSTOMER
    assert sent["document"] == {
        "id": media_id,
        "filename": "estado.pdf",
        "caption": "Su estado de cuenta",
    }
    row = only_reply(coordinator)
    assert row["status"] == "sent" and row["error_code"] is None
    assert row["media"] == {
        "name": "estado.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    # fetched once, as the service's user
    assert rc.file_downloads == [
        {"file_id": media_id and message["file"]["_id"], "user": "svc-user"}
    ]


def test_with_rocketchat_defaults_the_file_is_refused_and_the_outbox_says_why(
    app, client, rc, whatsapp, coordinator, org
):
    # FileUpload_Restrict_to_room_members (the default) wants a subscription the bot lacks
    room = customer_writes(client, app, coordinator)
    agent_event(client, room, file_message(rc, room, "estado.pdf", "application/pdf", PDF))
    row = only_reply(coordinator)
    assert row["status"] == "failed" and row["error_code"] == "media_unavailable"
    assert "FileUpload_Restrict_to_users_who_can_access_room" in row["last_error"]
    assert row["media"]["size"] is None and whatsapp.sent == [] and whatsapp.media == {}
    assert rc.notices_in(room) == [
        "El archivo «estado.pdf» no se envió al cliente: "
        "el servicio no pudo leer el archivo en Rocket.Chat."
    ]


def test_a_type_whatsapp_does_not_take_fails_before_any_byte_moves(
    app, client, rc, files_readable, whatsapp, coordinator, org
):
    room = customer_writes(client, app, coordinator)
    agent_event(client, room, file_message(rc, room, "datos.zip", "application/zip", b"PK\x03"))
    row = only_reply(coordinator)
    assert row["status"] == "failed" and row["error_code"] == "media_type"
    assert row["attempts"] == 1  # a refusal is not retried
    assert rc.file_downloads == [] and whatsapp.media == {} and whatsapp.sent == []
    assert rc.notices_in(room) == [
        "El archivo «datos.zip» no se envió al cliente: "
        "el canal no acepta archivos de este tipo (application/zip)."
    ]


def test_an_image_over_5_mb_is_refused_and_never_uploaded(
    app, client, rc, files_readable, whatsapp, coordinator, org
):
    room = customer_writes(client, app, coordinator)
    big = b"\xff\xd8\xff" + b"\0" * (5 * media.MB)
    agent_event(client, room, file_message(rc, room, "foto.jpg", "image/jpeg", big))
    row = only_reply(coordinator)
    assert row["status"] == "failed" and row["error_code"] == "media_too_large"
    assert row["media"]["size"] is None  # the download stopped at the limit: no size to show
    assert whatsapp.media == {} and whatsapp.sent == []


def test_an_audio_takes_no_caption_so_the_words_go_first(
    app, client, rc, files_readable, whatsapp, coordinator, org
):
    room = customer_writes(client, app, coordinator)
    message = file_message(rc, room, "nota.ogg", "audio/ogg", b"OggS" * 10, "Escuche esto")
    agent_event(client, room, message)
    assert [m["type"] for m in whatsapp.sent] == ["text", "audio"]
    assert whatsapp.sent[0]["text"]["body"] == "Escuche esto"
    assert "caption" not in whatsapp.sent[1]["audio"]
    assert only_reply(coordinator)["status"] == "sent"


@pytest.fixture
def served(app):
    """The app on a loopback port, for a provider that fetches from it (Twilio)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_twilio_fetches_the_signed_link_once(
    app, client, rc, files_readable, coordinator, monkeypatch, org, served
):
    with FakeTwilio() as twilio:
        twilio.reach = {"https://carteras.example.com": served}
        monkeypatch.setitem(
            app.extensions["ports"].senders,
            "twilio",
            TwilioSender(FakeTwilio.SID, FakeTwilio.TOKEN, twilio.url),
        )
        client.post(
            "/webhooks/twilio",
            data=samples.raw("twilio-whatsapp.form"),
            content_type=FORM,
            headers={"X-Twilio-Signature": samples.TWILIO_SIGNATURE},
        )
        room = coordinator.get("/api/conversations").json["items"][0]["room_id"]
        agent_event(client, room, file_message(rc, room, "estado.pdf", "application/pdf", PDF))
        (sent,) = twilio.sent
    url = sent["MediaUrl"]
    assert url.startswith("https://carteras.example.com/media/") and "Body" not in sent
    (fetch,) = twilio.media_fetches
    assert fetch["head_status"] == 200 and fetch["status"] == 200
    assert fetch["body"] == PDF and fetch["content_type"] == "application/pdf"
    assert "estado.pdf" in fetch["disposition"]
    assert only_reply(coordinator)["status"] == "sent"
    path = url.removeprefix("https://carteras.example.com")
    assert client.get(path).status_code == 410  # served once
    assert client.get(path[:-2] + "xx").status_code == 404  # not signed by this service
    assert len([d for d in rc.file_downloads if d["user"]]) == 2  # the job's and the link's


def test_a_link_expires(app, client, rc, files_readable, coordinator, monkeypatch, org):
    later = FixedClock(datetime.now(UTC) + timedelta(seconds=901))
    token = media.sign_link("test-secret", 1, 1, datetime.now(UTC) + timedelta(seconds=900))
    monkeypatch.setattr(app.extensions["ports"], "clock", later)
    assert client.get(f"/media/{token}").status_code == 410
    assert client.head(f"/media/{token}").status_code == 410


def test_an_email_reply_carries_the_file_attached(
    app, client, rc, files_readable, coordinator, monkeypatch, org
):
    monkeypatch.setattr(
        app.extensions["ports"],
        "clock",
        FixedClock(datetime.fromtimestamp(samples.MAILGUN_TIMESTAMP + 30, tz=UTC)),
    )
    with SmtpSink() as sink:
        monkeypatch.setitem(
            app.extensions["ports"].senders,
            "email",
            SmtpSender(
                "127.0.0.1", sink.port, "soporte@carteras.example.com", timeout=5, starttls=False
            ),
        )
        client.post("/webhooks/email/mailgun", data=samples.raw("mailgun.form"), content_type=FORM)
        room = coordinator.get("/api/conversations").json["items"][0]["room_id"]
        message = file_message(rc, room, "estado.pdf", "application/pdf", PDF, "Adjunto.")
        agent_event(client, room, message)
        assert sink.attachments() == [("estado.pdf", "application/pdf", PDF)]
    assert only_reply(coordinator)["media"]["sha256"] == hashlib.sha256(PDF).hexdigest()


# ---- the 24-hour window ----------------------------------------------------------------------
def test_after_24_hours_the_reply_is_refused_and_a_template_goes_instead(
    app, client, rc, whatsapp, coordinator, monkeypatch, org
):
    room = customer_writes(client, app, coordinator)
    clock = FixedClock(datetime.now(UTC) + timedelta(hours=24, minutes=1))
    monkeypatch.setattr(app.extensions["ports"], "clock", clock)
    agent_event(client, room, {"_id": "m-late", "msg": "¿Sigue ahí?"})

    refused = only_reply(coordinator)
    assert refused["status"] == "failed" and refused["error_code"] == "window_closed"
    assert refused["attempts"] == 1 and whatsapp.sent == []  # refused once, never retried
    assert rc.notices_in(room) == [NOTICE]
    (notice,) = [m for m in rc.messages if m["msg"] == NOTICE]
    assert notice["_id"].startswith("carteras-")  # comes back as an echo: never relayed

    path = f"/api/outbox/{refused['id']}/template"
    body = {"name": "seguimiento", "language": "es_MX", "parameters": ["Lucía"]}
    unknown = coordinator.post(path, body)
    assert unknown.status_code == 422 and unknown.json["error"]["details"]["approved"] == []
    config = app.config["CARTERAS"]
    monkeypatch.setitem(
        app.config,
        "CARTERAS",
        config.with_overrides(whatsapp_templates=(("seguimiento", "es_MX"),)),
    )
    answer = coordinator.post(path, body)
    assert answer.status_code == 202, answer.json
    assert answer.json["replaces_id"] == refused["id"]
    assert answer.json["template"] == {
        "name": "seguimiento",
        "language": "es_MX",
        "parameters": ["Lucía"],
    }
    (sent,) = whatsapp.sent
    assert sent["type"] == "template" and sent["template"] == {
        "name": "seguimiento",
        "language": {"code": "es_MX"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Lucía"}]}],
    }
    again = coordinator.post(path, body)
    assert again.json["id"] == answer.json["id"] and len(whatsapp.sent) == 1
    rows = {r["id"]: r for r in coordinator.get("/api/outbox").json["items"]}
    assert rows[answer.json["id"]]["status"] == "sent"
    assert rows[refused["id"]]["error_code"] == "window_closed"


def test_whatsapps_own_131047_refusal_is_shown_and_not_retried(
    app, client, rc, whatsapp, coordinator, org
):
    room = customer_writes(client, app, coordinator)
    whatsapp.close_window(CUSTOMER)  # WhatsApp's clock says the window closed
    agent_event(client, room, {"_id": "m-late", "msg": "¿Sigue ahí?"})
    row = only_reply(coordinator)
    assert row["status"] == "failed" and row["error_code"] == "window_closed"
    assert "131047" in row["last_error"] and row["attempts"] == 1
    assert rc.notices_in(room) == [NOTICE]


def test_only_a_window_refusal_takes_a_template(app, client, rc, whatsapp, coordinator, org):
    room = customer_writes(client, app, coordinator)
    agent_event(client, room, {"_id": "m-ok", "msg": "Hola"})
    row = only_reply(coordinator)
    answer = coordinator.post(
        f"/api/outbox/{row['id']}/template", {"name": "seguimiento", "language": "es_MX"}
    )
    assert answer.status_code == 409 and answer.json["error"]["code"] == "conflict"
    assert (
        coordinator.post("/api/outbox/999/template", {"name": "x", "language": "es"}).status_code
        == 404
    )


def test_a_real_worker_process_relays_a_file(
    app, backend, client, rc, files_readable, coordinator, monkeypatch, org, real_redis
):
    import subprocess

    from service.adapters.rq_queue import RQJobQueue
    from tests.workers import REDIS_URL, ROOT, WORKER, rocketchat_env, worker_env

    monkeypatch.setattr(app.extensions["ports"], "jobs", RQJobQueue.from_url(REDIS_URL))
    with FakeWhatsApp() as whatsapp:
        env = worker_env(
            backend,
            **rocketchat_env(rc),
            WHATSAPP_ACCESS_TOKEN=FakeWhatsApp.TOKEN,
            WHATSAPP_API_URL=f"{whatsapp.url}/v21.0",
        )

        def work() -> None:
            done = subprocess.run(
                [*WORKER, "relay"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr[-2000:]

        Posting(client, app).whatsapp(whatsapp_text("wamid.w1", sender=CUSTOMER))
        work()  # routes the customer's message: the room opens
        (room,) = rc.rooms
        message = file_message(rc, room, "estado.pdf", "application/pdf", PDF, "Aquí está")
        assert agent_event(client, room, message).status_code == 200
        work()  # routes the agent's message, then relays its file
        (sent,) = whatsapp.sent
        ((media_id, uploaded),) = whatsapp.media.items()
    assert sent["document"] == {"id": media_id, "filename": "estado.pdf", "caption": "Aquí está"}
    assert uploaded["sha256"] == hashlib.sha256(PDF).hexdigest()
    row = only_reply(coordinator)
    assert row["status"] == "sent" and row["media"]["size"] == len(PDF)
