"""WhatsApp Cloud API webhook: handshake, signatures, storage, duplicates, batches, receipts."""

import pytest

from service.models import DeliveryStatus, InboxMessage
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text


def test_handshake_echoes_the_challenge(client):
    ok = client.get(
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=test-verify-token"
        "&hub.challenge=1158201444"
    )
    assert ok.status_code == 200
    assert ok.mimetype == "text/plain" and ok.get_data(as_text=True) == "1158201444"
    wrong = client.get(
        "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444"
    )
    assert wrong.status_code == 403


def test_signed_sample_is_stored_and_processed(post):
    response = post.sample("whatsapp-text.json")
    assert response.status_code == 200
    assert response.json["accepted"] == 1
    (row,) = post.rows()
    assert row.provider == "meta" and row.channel == "whatsapp"
    assert row.sender_value == "+525512345678" and row.sender_raw == "5215512345678"
    assert row.thread_key == "+525512345678"
    assert row.text == "Hola, quiero saber el saldo de mi cuenta"
    # the in-process job resolved the sender into a new contact without a cartera
    assert row.status == "processed" and row.contact_id is not None
    assert post.contacts() == [("Lucía Gómez", [("phone", "+525512345678")], None)]


def test_known_contact_is_matched_in_any_written_form(post, make):
    existing = make.contact("Lucía", phones=["+52 55 1234 5678"])
    post.sample("whatsapp-text.json")
    (row,) = post.rows()
    assert row.contact_id == existing
    assert post.count(InboxMessage) == 1 and len(post.contacts()) == 1


def test_argentina_549_matches_a_contact_stored_without_the_9(post, make):
    existing = make.contact("Pedro", phones=["+54 11 2345 6789"])
    post.sample("whatsapp-image.json")
    (row,) = post.rows()
    assert row.contact_id == existing and row.kind == "image"
    assert row.attachments[0]["ref"] == "whatsapp-media:1479537139650973"


def test_brazil_number_without_the_ninth_digit_matches(post, make):
    existing = make.contact("Rosa", phones=["+55 11 98765-4321"])
    post.whatsapp(whatsapp_text("wamid.BR1", sender="551187654321"))
    assert post.rows()[0].contact_id == existing


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": "md5=abc"}],
)
def test_bad_or_missing_signature_is_401_and_stores_nothing(post, headers):
    response = post.whatsapp(whatsapp_text("wamid.1"), headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert post.count(InboxMessage) == 0


def test_tampered_body_is_refused(post):
    body = whatsapp_text("wamid.1")
    response = post.whatsapp(body.replace(b"Hola", b"Adios"), sign_whatsapp(body))
    assert response.status_code == 401
    assert post.count(InboxMessage) == 0


def test_same_delivery_twice_is_stored_and_processed_once(post):
    first = post.sample("whatsapp-text.json")
    second = post.sample("whatsapp-text.json")
    assert first.json["accepted"] == 1
    assert second.status_code == 200 and second.json == {
        "ok": True,
        "accepted": 0,
        "duplicates": 1,
        "statuses": 0,
        "ignored": 0,
        "failed": 0,
    }
    assert post.count(InboxMessage) == 1 and len(post.contacts()) == 1


def test_batch_stores_each_message(post):
    response = post.sample("whatsapp-batch.json")
    assert response.json["accepted"] == 3
    rows = post.rows()
    assert [r.kind for r in rows] == ["text", "reaction", "interactive"]
    assert {r.status for r in rows} == {"processed"}
    # two senders: Rosa (Brazil) and Carlos (Colombia)
    assert sorted(c[0] for c in post.contacts()) == ["Carlos Méndez", "Rosa Díaz"]


def test_status_only_callback_is_recorded_without_a_message(post):
    response = post.sample("whatsapp-status-only.json")
    assert response.status_code == 200 and response.json["statuses"] == 1
    assert post.count(InboxMessage) == 0
    assert post.count(DeliveryStatus) == 1
    assert post.sample("whatsapp-status-only.json").json["statuses"] == 0  # receipt deduplicated


def test_unknown_message_type_is_stored_with_its_type(post):
    body = whatsapp_text("wamid.NEW").replace(
        b'"type": "text", "text": {"body": "Hola"}', b'"type": "hologram", "hologram": {"x": 1}'
    )
    assert post.whatsapp(body).status_code == 200
    (row,) = post.rows()
    assert row.kind == "hologram" and row.payload["message"]["hologram"] == {"x": 1}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"object": "page"}', "application/json", 400),
        (
            b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages",'
            b'"value":{"messages":[{"id":"x"}]}}]}]}',
            "application/json",
            400,
        ),
        (b"a=b", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_input_is_a_clean_4xx(client, post, body, content_type, status):
    response = client.post(
        "/webhooks/whatsapp", data=body, content_type=content_type, headers=sign_whatsapp(body)
    )
    assert response.status_code == status
    assert response.json["error"]["code"]
    assert post.count(InboxMessage) == 0


def test_body_over_the_limit_is_413(client, app, monkeypatch, post):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    body = whatsapp_text("wamid.big", text="x" * 2000)
    response = client.post(
        "/webhooks/whatsapp",
        data=body,
        content_type="application/json",
        headers=sign_whatsapp(body),
    )
    assert response.status_code == 413
    assert post.count(InboxMessage) == 0


def test_unconfigured_secret_is_503(client, app, monkeypatch, post):
    config = app.config["CARTERAS"]
    monkeypatch.setitem(
        app.config,
        "CARTERAS",
        config.with_overrides(whatsapp_app_secret=None, whatsapp_verify_token=None),
    )
    response = post.sample("whatsapp-text.json")
    assert response.status_code == 503
    assert "WHATSAPP_APP_SECRET" in response.json["error"]["message"]
    assert client.get("/webhooks/whatsapp?hub.mode=subscribe").status_code == 503
    assert post.count(InboxMessage) == 0
