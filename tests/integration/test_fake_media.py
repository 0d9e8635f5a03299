"""The fakes behind the media tests answer as the real services do (issue 17): Rocket.Chat's
file access rule and chat.sendMessage, the Cloud API's media upload and refusals; and the
adapter never fetches a path that is not a Rocket.Chat file."""

from __future__ import annotations

import io

import pytest
import requests

from service.adapters.rocketchat import RocketChatClient
from service.domain.ports import ChatPlatformError
from tests.fake_channels import FakeWhatsApp
from tests.fake_rocketchat import AUTH_TOKEN, USER_ID, FakeRocketChat

BOT = {"X-User-Id": USER_ID, "X-Auth-Token": AUTH_TOKEN}


@pytest.fixture
def rc():
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as fake:
        fake.rooms["r1"] = {"_id": "r1", "open": True, "servedBy": {"_id": "u-marta"}}
        yield fake


def test_file_access_follows_request_can_access_files(rc):
    path = rc.add_file("r1", "a.pdf", "application/pdf", b"%PDF")
    url = rc.url + path
    assert requests.get(url, timeout=5).status_code == 403  # no credentials
    # default: restricted to room members, and the bot is not one
    assert requests.get(url, headers=BOT, timeout=5).status_code == 403
    rc.subscribe("r1", USER_ID)
    assert requests.get(url, headers=BOT, timeout=5).content == b"%PDF"
    rc.subscriptions.clear()
    rc.settings["FileUpload_Restrict_to_room_members"] = False
    rc.settings["FileUpload_Restrict_to_users_who_can_access_room"] = True
    query = f"{url}?rc_uid={USER_ID}&rc_token={AUTH_TOKEN}"
    assert requests.get(query, timeout=5).status_code == 200  # view-livechat-rooms
    rc.permissions.discard("view-livechat-rooms")
    assert requests.get(query, timeout=5).status_code == 403
    rc.settings["FileUpload_Restrict_to_room_members"] = True  # both on: refused
    rc.permissions.add("view-livechat-rooms")
    assert requests.get(query, timeout=5).status_code == 403
    rc.settings["FileUpload_ProtectFiles"] = False
    assert requests.get(url, timeout=5).status_code == 200
    assert requests.get(rc.url + "/file-upload/nope/x", timeout=5).status_code == 404


def test_the_bot_posts_a_notice_once_in_a_room_it_can_access(rc):
    client = RocketChatClient(rc.url, USER_ID, AUTH_TOKEN, timeout=5)
    client.post_notice("r1", "Aviso", "carteras-notice-1-1")
    client.post_notice("r1", "Aviso", "carteras-notice-1-1")  # repeated: still once
    assert rc.notices_in("r1") == ["Aviso"]
    rc.permissions.discard("view-livechat-rooms")
    with pytest.raises(ChatPlatformError, match="error-not-allowed"):
        client.post_notice("r1", "Aviso", "carteras-notice-2-1")


@pytest.mark.parametrize(
    "ref",
    [
        "https://evil.example.com/file-upload/a/b",
        "/api/v1/me",
        "/file-upload/../api/v1/me",
        "/file-upload/abc/../../x",
        "//evil.example.com/file-upload/a/b",
    ],
)
def test_the_adapter_fetches_rocketchat_file_paths_only(rc, ref):
    client = RocketChatClient(rc.url, USER_ID, AUTH_TOKEN, timeout=5)
    with pytest.raises(ChatPlatformError) as refused:
        client.download_file(ref, io.BytesIO(), 100)
    assert refused.value.code == "bad-file-ref"
    assert rc.file_downloads == []


def test_the_adapter_stops_reading_past_the_limit(rc):
    rc.settings["FileUpload_ProtectFiles"] = False
    path = rc.add_file("r1", "big.pdf", "application/pdf", b"x" * 300_000)
    into = io.BytesIO()
    client = RocketChatClient(rc.url, USER_ID, AUTH_TOKEN, timeout=5)
    assert client.download_file(path, into, 1000) == "application/pdf"
    assert 1000 < len(into.getvalue()) < 300_000


def test_the_cloud_api_upload_checks_type_and_size():
    with FakeWhatsApp() as wa:
        auth = {"Authorization": f"Bearer {FakeWhatsApp.TOKEN}"}
        upload = f"{wa.url}/v21.0/106540352242922/media"

        def send(name, mime, data, product="whatsapp"):
            return requests.post(
                upload,
                headers=auth,
                data={"messaging_product": product, "type": mime},
                files={"file": (name, data, mime)},
                timeout=5,
            )

        assert send("a.pdf", "application/pdf", b"%PDF", product="x").status_code == 400
        refused = send("a.gif", "image/gif", b"GIF8").json()["error"]
        assert refused["code"] == 131053 and refused["type"] == "OAuthException"
        big = send("a.png", "image/png", b"\0" * (5 * 1024 * 1024 + 1)).json()["error"]
        assert big["code"] == 131053 and "5 MB" in big["error_data"]["details"]
        media_id = send("a.pdf", "application/pdf", b"%PDF").json()["id"]
        message = {"messaging_product": "whatsapp", "to": "521", "type": "document"}
        url = f"{wa.url}/v21.0/106540352242922/messages"
        unknown = requests.post(
            url, headers=auth, json={**message, "document": {"id": "9"}}, timeout=5
        )
        assert unknown.json()["error"]["code"] == 131053
        sent = requests.post(
            url, headers=auth, json={**message, "document": {"id": media_id}}, timeout=5
        )
        assert sent.status_code == 200 and len(wa.sent) == 1
        wa.close_window("521")
        closed = requests.post(
            url, headers=auth, json={**message, "document": {"id": media_id}}, timeout=5
        )
        error = closed.json()["error"]
        assert closed.status_code == 400 and error["code"] == 131047
        assert "24 hours" in error["error_data"]["details"]
        template = {"messaging_product": "whatsapp", "to": "521", "type": "template"}
        template["template"] = {"name": "seguimiento", "language": {"code": "es_MX"}}
        assert requests.post(url, headers=auth, json=template, timeout=5).status_code == 200
