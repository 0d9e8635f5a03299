"""A customer's photos, documents, voice notes and locations reach the agent's room as files
or links, in the order sent; files that cannot go leave a clear line instead (issue 17)."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from service.adapters.channel_files import ChannelFilesClient
from tests import samples
from tests.fake_media import FakeGraphMedia, FakeTwilioMedia
from tests.webhooks.conftest import STEP, Posting, transactions, whatsapp_text

PHONE = "5215512345678"
T0 = 1763809200
JPEG = b"\xff\xd8\xff\xe0" + b"foto" * 300
PDF = b"%PDF-1.4\n" + b"estado de cuenta " * 100


@pytest.fixture
def post(client, app):
    return Posting(client, app)


@pytest.fixture
def graph():
    with FakeGraphMedia() as fake:
        yield fake


@pytest.fixture
def twilio():
    with FakeTwilioMedia(protected=True) as fake:
        yield fake


@pytest.fixture
def files(app, graph, twilio, tmp_path, monkeypatch):
    client = ChannelFilesClient(
        tmp_path / "spool",
        whatsapp_token=FakeGraphMedia.TOKEN,
        whatsapp_api_url=f"{graph.url}/v21.0",
        twilio_account_sid=FakeTwilioMedia.SID,
        twilio_auth_token=FakeTwilioMedia.TOKEN,
    )
    monkeypatch.setattr(app.extensions["ports"], "files", client)
    return client


def limit(app, monkeypatch, **overrides):
    config = app.config["CARTERAS"]
    monkeypatch.setitem(app.config, "CARTERAS", config.with_overrides(**overrides))


def whatsapp_message(message_id: str, message: dict, timestamp: int = T0) -> bytes:
    body = json.loads(whatsapp_text(message_id, sender=PHONE, timestamp=timestamp))
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"][0] = {"from": PHONE, "id": message_id, "timestamp": str(timestamp), **message}
    return json.dumps(body).encode()


def room_of(rc) -> str:
    (room,) = rc.rooms
    return room


def test_a_whatsapp_photo_reaches_the_room_as_a_file_after_its_caption(app, rc, post, graph, files):
    media_id = graph.add(JPEG, "image/jpeg")
    image = {
        "type": "image",
        "image": {"id": media_id, "mime_type": "image/jpeg", "caption": "mi recibo"},
    }
    assert post.whatsapp(whatsapp_message("wamid.img", image)).status_code == 200
    room = room_of(rc)
    assert rc.messages_in(room)[0] == "mi recibo"
    assert rc.files_in(room) == [("image.jpg", "image/jpeg", JPEG)]
    (row,) = post.rows()
    (item,) = row.attachments
    assert row.status == "processed" and item["delivered"] is True
    assert item["sha256"] == __import__("hashlib").sha256(JPEG).hexdigest()
    assert "data" not in item  # bytes never stored


def test_a_files_upload_is_recorded_durably_not_as_a_step(app, backend, rc, post, graph, files):
    """An upload is a new message in Rocket.Chat each time (not repeated safely), so its
    record waits for the disk, and with it the job's steps before it (runtime.commit_step)."""
    media_id = graph.add(JPEG, "image/jpeg")
    image = {"type": "image", "image": {"id": media_id, "mime_type": "image/jpeg"}}
    with transactions(app) as seen:
        assert post.whatsapp(whatsapp_message("wamid.img", image)).status_code == 200
    assert rc.files_in(room_of(rc)) == [("image.jpg", "image/jpeg", JPEG)]
    recorded = [t for t in seen if any("SET attachments=" in s for s in t)]
    assert recorded and all(STEP not in t for t in recorded)
    if backend.name == "postgresql":  # the steps before it are steps all the same
        assert any(STEP in t for t in seen)


def test_an_expired_media_url_is_asked_again_from_the_id(app, rc, post, files):
    with FakeGraphMedia(url_ttl=0) as lapsing:  # every URL has lapsed when it is used
        files.whatsapp_api_url = f"{lapsing.url}/v21.0"
        media_id = lapsing.add(PDF, "application/pdf")
        document = {
            "type": "document",
            "document": {"id": media_id, "mime_type": "application/pdf", "filename": "estado.pdf"},
        }
        post.whatsapp(whatsapp_message("wamid.doc", document))
    (row,) = post.rows()
    (item,) = row.attachments
    # asked twice, both lapsed: the file is gone, said in the room, and the message processed
    assert row.status == "processed" and item["refused"] == "gone"
    assert "ya no lo tiene disponible" in rc.messages_in(room_of(rc))[-1]


def test_an_unknown_media_id_is_a_clear_line_not_a_failure(app, rc, post, files):
    image = {"type": "image", "image": {"id": "999", "mime_type": "image/jpeg"}}
    post.whatsapp(whatsapp_message("wamid.gone", image))
    (row,) = post.rows()
    assert row.status == "processed" and row.attachments[0]["refused"] == "gone"


def twilio_post(client, form: dict[str, str]):
    url = samples.TWILIO_URL
    signature = RequestValidator(samples.TWILIO_TOKEN).compute_signature(url, form)
    return client.post(
        "/webhooks/twilio",
        data=urllib.parse.urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def test_a_twilio_voice_note_is_fetched_with_the_accounts_auth(
    app, client, rc, post, twilio, files
):
    voice = b"OggS" + b"\x00voz" * 200
    media_url = twilio.add(voice, "audio/ogg")
    form = {
        "MessageSid": "SM1",
        "From": f"whatsapp:+{PHONE}",
        "To": "whatsapp:+14155238886",
        "Body": "",
        "NumMedia": "1",
        "MediaUrl0": media_url,
        "MediaContentType0": "audio/ogg",
        "ProfileName": "Lucía",
    }
    assert twilio_post(client, form).status_code == 200
    assert twilio.fetches == ["ME1"]
    assert rc.files_in(room_of(rc)) == [("audio.oga", "audio/ogg", voice)]


def test_a_pdf_by_email_is_kept_aside_then_uploaded_and_forgotten(
    app, client, rc, post, files, tmp_path
):
    body = json.loads(samples.raw("postmark.json"))
    body["Attachments"] = [
        {
            "Name": "estado.pdf",
            "ContentType": "application/pdf",
            "Content": base64.b64encode(PDF).decode(),
            "ContentLength": len(PDF),
        }
    ]
    answer = client.post(
        "/webhooks/email/postmark",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": samples.basic(*samples.POSTMARK_AUTH)},
    )
    assert answer.status_code == 200
    (row,) = post.rows()
    assert row.attachments[0]["ref"].startswith("spool:") and row.attachments[0]["delivered"]
    assert rc.files_in(room_of(rc)) == [("estado.pdf", "application/pdf", PDF)]
    assert list((tmp_path / "spool").iterdir()) == []  # forgotten once delivered


def test_a_location_and_a_contact_card_are_readable_lines(app, rc, post, files):
    location = {
        "type": "location",
        "location": {"latitude": 19.4326, "longitude": -99.1332, "name": "Sucursal Centro"},
    }
    card = {
        "type": "contacts",
        "contacts": [
            {"name": {"formatted_name": "Ana Ruiz"}, "phones": [{"phone": "+52 55 1111 2222"}]}
        ],
    }
    post.whatsapp(whatsapp_message("wamid.loc", location, T0))
    post.whatsapp(whatsapp_message("wamid.card", card, T0 + 1))
    shown = rc.messages_in(room_of(rc))
    assert shown[0].startswith("📍 Ubicación: Sucursal Centro https://www.google.com/maps/")
    assert "query=19.4326,-99.1332" in shown[0]
    assert shown[1] == "👤 Contacto: Ana Ruiz (+52 55 1111 2222)"


def test_an_unsupported_type_says_so(app, rc, post, files):
    post.whatsapp(
        whatsapp_message("wamid.x", {"type": "unsupported", "errors": [{"code": 131051}]})
    )
    assert rc.messages_in(room_of(rc)) == [
        "El cliente envió un tipo de archivo no admitido: unsupported"
    ]


def test_files_over_the_limits_are_refused_with_a_line(app, rc, post, graph, files, monkeypatch):
    limit(app, monkeypatch, media_max_bytes=1024)
    video = graph.add(b"v" * 4096, "video/mp4")
    program = graph.add(b"MZ" + b"\x00" * 100, "application/x-msdownload")
    post.whatsapp(
        whatsapp_message(
            "wamid.v", {"type": "video", "video": {"id": video, "mime_type": "video/mp4"}}, T0
        )
    )
    post.whatsapp(
        whatsapp_message(
            "wamid.exe",
            {
                "type": "document",
                "document": {
                    "id": program,
                    "mime_type": "application/x-msdownload",
                    "filename": "factura.exe",
                },
            },
            T0 + 1,
        )
    )
    room = room_of(rc)
    assert rc.files_in(room) == []
    lines = rc.messages_in(room)
    assert "supera el tamaño máximo de 1 KB" in lines[0]
    assert "«factura.exe»" in lines[1] and "no está admitido (application/x-msdownload)" in lines[1]
    assert [r.status for r in post.rows()] == ["processed", "processed"]
    assert [r.attachments[0]["refused"] for r in post.rows()] == ["too_large", "type"]


def test_a_file_rocketchat_refuses_is_a_line_not_a_failed_conversation(app, rc, post, graph, files):
    rc.settings["Livechat_fileupload_enabled"] = False
    media_id = graph.add(JPEG, "image/jpeg")
    post.whatsapp(
        whatsapp_message(
            "wamid.img", {"type": "image", "image": {"id": media_id, "mime_type": "image/jpeg"}}
        )
    )
    (row,) = post.rows()
    assert row.status == "processed"
    assert row.attachments[0]["refused"] == "error-file-upload-disabled"
    assert "Rocket.Chat tiene desactivada la subida de archivos" in rc.messages_in(room_of(rc))[-1]


def test_text_and_files_keep_the_order_sent(app, rc, post, graph, files):
    media_id = graph.add(JPEG, "image/jpeg")
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="le mando la foto", timestamp=T0))
    post.whatsapp(
        whatsapp_message(
            "wamid.2",
            {"type": "image", "image": {"id": media_id, "mime_type": "image/jpeg"}},
            T0 + 1,
        )
    )
    post.whatsapp(whatsapp_text("wamid.3", sender=PHONE, text="¿la ve?", timestamp=T0 + 2))
    room = room_of(rc)
    shown = [m.get("file", {}).get("name") or m["msg"] for m in rc.messages if m["rid"] == room]
    assert shown == ["le mando la foto", "image.jpg", "¿la ve?"]
