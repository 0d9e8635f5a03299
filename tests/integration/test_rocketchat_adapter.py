"""The Rocket.Chat adapter against the fake server: calls, and errors turned into types."""

import socket

import pytest

from service.adapters.rocketchat import RocketChatClient
from service.domain.ports import ChatPlatformError, ChatPlatformUnavailable, RoomClosed
from tests.fake_rocketchat import FakeRocketChat


@pytest.fixture
def rc():
    with FakeRocketChat() as fake:
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_custom_field("cartera", "Cartera", scope="room")
        yield fake


@pytest.fixture
def client(rc):
    return RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=2)


def test_visitor_room_message_tags_forward(rc, client):
    visitor = client.register_visitor(
        "tok-1", name="Ana", phone="+525511112222", email=None, department=None
    )
    room = client.open_room(visitor.token)
    assert room.new and client.open_room(visitor.token).id == room.id  # the open room again
    client.post_visitor_message(visitor.token, room.id, "hola", "carteras-1")
    rc.rooms[room.id]["tags"] = ["vip"]  # an agent's own tag
    client.tag_room(
        visitor_id=visitor.id,
        room_id=room.id,
        tags=["cartera:Norte", "vip"],
        badge="🏦 Norte",
    )
    assert rc.rooms[room.id]["tags"] == ["vip", "cartera:Norte"]
    assert rc.rooms[room.id]["livechatData"] == {"cartera": "🏦 Norte"}
    assert rc.rooms[room.id]["servedBy"]["_id"] == "u-luis"  # Auto_Selection gave it to Luis
    rc.add_agent("u-marta", "marta", online=True)
    client.forward(room.id, agent_id="u-marta", comment="dueña")
    client.forward(room.id, agent_id="u-marta", comment="otra vez")  # already hers: fine
    assert len(rc.forwards) == 1


def test_rocketchat_keeps_the_token_of_a_visitor_matched_by_phone(rc, client):
    first = client.register_visitor(
        "tok-1", name="Ana", phone="+525511112222", email=None, department=None
    )
    again = client.register_visitor(
        "tok-2", name="Ana", phone="+525511112222", email=None, department=None
    )
    assert again.token == first.token == "tok-1"


def test_presence(rc, client):
    assert client.presence("u-luis").available
    rc.set_online("u-luis", False)
    offline = client.presence("u-luis")
    assert not offline.available and offline.status_livechat == "not-available"
    assert not client.presence("u-unknown").available


def test_closed_room(rc, client):
    visitor = client.register_visitor("tok", name="A", phone=None, email=None, department=None)
    room = client.open_room(visitor.token)
    rc.close_room(room.id)
    with pytest.raises(RoomClosed):
        client.post_visitor_message(visitor.token, room.id, "hola", "carteras-2")


def test_wrong_credentials_are_a_plain_error(rc):
    bad = RocketChatClient(rc.url, rc.user_id, "wrong", timeout=2)
    with pytest.raises(ChatPlatformError) as raised:
        bad.presence("u-luis")
    assert not raised.value.retryable and raised.value.code == "http-401"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_retryable(rc, client, status):
    rc.fail("livechat/users/agent", status=status)
    with pytest.raises(ChatPlatformUnavailable):
        client.presence("u-luis")


def test_refusals_carry_rocketchats_code(rc, client):
    with pytest.raises(ChatPlatformError) as raised:
        client.forward("no-such-room", agent_id="u-luis", comment="x")
    assert raised.value.code == "error-invalid-room" and not raised.value.retryable


def test_proxy_pages_timeouts_and_refused_connections_are_retryable(rc, client):
    rc.down = True
    with pytest.raises(ChatPlatformUnavailable):
        client.presence("u-luis")
    rc.down, rc.delay = False, 3.0
    with pytest.raises(ChatPlatformUnavailable):
        client.presence("u-luis")
    rc.delay = 0.0
    # a port bound by this test but not listening refuses connections, and stays ours
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        nobody = RocketChatClient(f"http://127.0.0.1:{port}", "u", "t", timeout=1)
        with pytest.raises(ChatPlatformUnavailable):
            nobody.presence("u-luis")


def test_a_5xx_is_tried_again_at_once_a_few_times(rc):
    quick = RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=2, quick_retries=2)
    rc.fail("livechat/users/agent", status=502, times=2)
    assert quick.presence("u-luis").available  # third call answered
    rc.fail("livechat/users/agent", status=500, times=3)
    with pytest.raises(ChatPlatformUnavailable):
        quick.presence("u-luis")
    assert len(rc.calls_to("livechat/users/agent/u-luis")) == 6


def test_a_timeout_is_not_tried_again_within_the_call(rc):
    quick = RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=0.5, quick_retries=2)
    rc.delay = 1.0
    with pytest.raises(ChatPlatformUnavailable):
        quick.presence("u-luis")
    rc.delay = 0.0
    assert len(rc.calls_to("livechat/users/agent/u-luis")) == 1
