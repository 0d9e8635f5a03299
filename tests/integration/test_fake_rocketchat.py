"""The fake Rocket.Chat answers as the real server does, one behaviour per test, so it cannot
drift back into a lenient fake. Each test restates a case of Rocket.Chat's own end-to-end
tests (apps/meteor/tests/end-to-end/api/livechat/*.ts, named in the docstring) or a rule of
its server code (file named), in our own words, against the endpoints the service calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request

from tests.fake_rocketchat import AUTH_TOKEN, USER_ID, FakeRocketChat

AUTH = {"X-User-Id": USER_ID, "X-Auth-Token": AUTH_TOKEN}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Api:
    def __init__(self, rc: FakeRocketChat) -> None:
        self.rc = rc

    def get(self, path: str, auth: bool = False, **params: Any) -> requests.Response:
        return requests.get(
            f"{self.rc.url}/api/v1/{path}", params=params, headers=AUTH if auth else {}, timeout=5
        )

    def post(self, path: str, body: Any, auth: bool = False) -> requests.Response:
        return requests.post(
            f"{self.rc.url}/api/v1/{path}", json=body, headers=AUTH if auth else {}, timeout=5
        )

    def visitor(self, token: str, **fields: Any) -> dict[str, Any]:
        answer = self.post("livechat/visitor", {"visitor": {"token": token, **fields}})
        assert answer.status_code == 200, answer.text
        return answer.json()["visitor"]  # type: ignore[no-any-return]

    def room(self, token: str, **params: Any) -> requests.Response:
        return self.get("livechat/room", token=token, **params)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rc(clock: Clock) -> Iterator[FakeRocketChat]:
    with FakeRocketChat(clock=clock, API_Enable_Rate_Limiter=False) as fake:
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_department("dep-norte", "Norte", agents=["u-luis"])
        fake.add_department("dep-sur", "Sur")
        yield fake


@pytest.fixture
def api(rc: FakeRocketChat) -> Api:
    return Api(rc)


def error(answer: requests.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]


# ---- livechat/visitor: 09-visitors.ts -------------------------------------------------------
def test_visitor_without_visitor_key_or_token_fails(api):
    """09-visitors.ts 'should fail if no "visitor" key is passed as body parameter' and
    'should fail if visitor.token is not present'."""
    assert api.post("livechat/visitor", {}).status_code == 400
    assert api.post("livechat/visitor", {"visitor": {}}).status_code == 400


def test_visitor_with_empty_token_fails(api):
    """09-visitors.ts 'should fail when token is an empty string'."""
    answer = api.post("livechat/visitor", {"visitor": {"token": ""}})
    assert error(answer) == (400, "Token cannot be empty [error-invalid-token]")


def test_visitor_is_created_online_with_its_phone(api):
    """09-visitors.ts 'should create a visitor' and '... with provided extra information'."""
    visitor = api.visitor("test", phone="+5215512345678")
    assert visitor["token"] == "test" and visitor["status"] == "online"
    assert visitor["phone"][0]["phoneNumber"] == "+5215512345678"


def test_visitor_matched_by_phone_keeps_its_first_token(api):
    """09-visitors.ts 'should update a current visitor when phone is same'
    (lib/Visitors.ts registerGuest: "Same visitor won't update the token")."""
    first = api.visitor("tok-1", phone="+5215512345678")
    again = api.visitor("tok-2", phone="+5215512345678")
    assert again["_id"] == first["_id"] and again["token"] == "tok-1"


def test_visitor_department_must_exist_and_is_kept_once_set(api):
    """lib/Visitors.ts registerGuest: an unknown department is refused; one not sent keeps
    the stored one (by id or by name)."""
    answer = api.post("livechat/visitor", {"visitor": {"token": "t", "department": "nope"}})
    assert answer.json()["errorType"] == "error-invalid-department"
    assert api.visitor("t", department="Norte")["department"] == "dep-norte"
    assert api.visitor("t", name="Ana")["department"] == "dep-norte"


# ---- livechat/room: 00-rooms.ts, 24-routing.ts, QueueManager.ts ------------------------------
def test_room_needs_a_token(api):
    """00-rooms.ts 'should fail when token is not passed as query parameter'."""
    assert api.get("livechat/room").status_code == 400


def test_room_with_an_unknown_token_fails(api):
    """00-rooms.ts 'should fail when token is not a valid guest token'."""
    assert error(api.room("invalid-token")) == (400, "invalid-token")


def test_room_with_an_unknown_rid_fails(api):
    """00-rooms.ts 'should fail if rid is passed but doesnt point to a valid room'."""
    api.visitor("t")
    assert error(api.room("t", rid="invalid-rid")) == (400, "invalid-room")


def test_room_is_created_then_the_open_one_is_returned(api):
    """00-rooms.ts 'should create a room for visitor', 'should return an existing open room
    when visitor has one available' and '... when rid points to a valid open room'."""
    api.visitor("t")
    first = api.room("t").json()
    assert first["newRoom"] is True and first["room"]["v"]["token"] == "t"
    again = api.room("t").json()
    assert again["newRoom"] is False and again["room"]["_id"] == first["room"]["_id"]
    by_rid = api.room("t", rid=first["room"]["_id"]).json()
    assert by_rid["newRoom"] is False


def test_room_of_a_closed_or_foreign_rid_is_invalid(api, rc):
    """room.ts: findOneOpenByRoomIdAndVisitorToken; a closed or another visitor's room is
    'invalid-room', never reopened by this route."""
    api.visitor("a")
    api.visitor("b")
    room_a = api.room("a").json()["room"]["_id"]
    assert error(api.room("b", rid=room_a)) == (400, "invalid-room")
    rc.close_room(room_a)
    assert error(api.room("a", rid=room_a)) == (400, "invalid-room")


def test_room_refuses_a_department_query_parameter(api):
    """room.ts: check(queryParams, {token, rid, agentId}): the department comes from the
    visitor, never from the query."""
    api.visitor("t")
    assert api.room("t", department="dep-norte").status_code == 400


def test_no_agent_online_refuses_the_room(api, rc):
    """24-routing.ts 'should fail to start a conversation if there is noone available and
    Livechat_accept_chats_with_no_agents is false' (QueueManager.ts requestRoom)."""
    rc.set_online("u-luis", False)
    api.visitor("t")
    assert error(api.room("t")) == (400, "Sorry, no online agents [no-agent-online]")
    assert rc.rooms == {}


def test_no_agent_online_in_the_visitors_department_refuses_the_room(api, rc):
    """QueueManager.ts requestRoom: a visitor's department with nobody online."""
    api.visitor("t", department="dep-sur")
    assert api.room("t").json()["errorType"] == "no-agent-online"


def test_accepting_chats_with_no_agents_opens_an_unserved_room(api, rc):
    """24-routing.ts 'should accept a conversation but not route to anyone when
    Livechat_accept_chats_with_no_agents is true'."""
    rc.settings["Livechat_accept_chats_with_no_agents"] = True
    rc.set_online("u-luis", False)
    api.visitor("t")
    room = api.room("t").json()["room"]
    assert room["servedBy"] is None


def test_room_goes_to_an_available_agent_not_an_unavailable_one(api, rc):
    """24-routing.ts 'should route a room to an available agent' and 'should not route to a
    not-available agent' / 'should ignore disabled users'."""
    rc.add_agent("u-ana", "ana", online=True, available=False)
    rc.add_agent("u-eva", "eva", online=True, active=False)
    rc.departments["dep-norte"]["agents"] |= {"u-ana", "u-eva"}
    api.visitor("t", department="dep-norte")
    assert api.room("t").json()["room"]["servedBy"]["_id"] == "u-luis"


def test_room_inherits_the_visitors_department(api):
    """lib/QueueManager.ts requestRoom: the room's department is the visitor's."""
    api.visitor("t", department="dep-norte")
    assert api.room("t").json()["room"]["departmentId"] == "dep-norte"


def test_room_start_webhook_is_sent_before_the_room_answers(api, rc):
    """hooks/sendToCRM.ts on livechat.newRoom, awaited inside QueueManager.requestRoom: the
    service's webhook sees the room before the caller gets it."""
    seen: list[dict[str, Any]] = []
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook() -> str:
        seen.append(
            {
                "body": request.get_json(),
                "token": request.headers.get("X-RocketChat-Livechat-Token"),
            }
        )
        return "ok"

    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rc.settings.update(
            Livechat_webhookUrl=f"http://127.0.0.1:{server.server_port}/hook",
            Livechat_secret_token="s3cret",
            Livechat_webhook_on_start=True,
        )
        api.visitor("t", phone="+5215512345678")
        room = api.room("t").json()["room"]
        assert len(seen) == 1  # already there when the answer came
        assert seen[0]["token"] == "s3cret"
        body = seen[0]["body"]
        assert body["type"] == "LivechatSessionStart" and body["_id"] == room["_id"]
        assert body["visitor"]["token"] == "t"
    finally:
        server.shutdown()


# ---- livechat/message: 00-rooms.ts, message.ts, sendMessage.ts -------------------------------
def test_message_to_a_closed_room_is_refused(api, rc):
    """message.ts: '!room.open' -> room-closed."""
    api.visitor("t")
    rid = api.room("t").json()["room"]["_id"]
    rc.close_room(rid)
    answer = api.post("livechat/message", {"token": "t", "rid": rid, "msg": "hola"})
    assert error(answer) == (400, "room-closed")


def test_message_with_a_repeated_id_is_refused_and_not_stored_twice(api, rc):
    """lib/server/functions/sendMessage.ts returns nothing for an existing _id, and
    Object.assign(undefined) answers this TypeError (7.x lib/messages.ts)."""
    api.visitor("t")
    rid = api.room("t").json()["room"]["_id"]
    body = {"token": "t", "rid": rid, "msg": "hola", "_id": "carteras-1"}
    assert api.post("livechat/message", body).status_code == 200
    assert error(api.post("livechat/message", body)) == (
        400,
        "Cannot convert undefined or null to object",
    )
    assert rc.messages_in(rid) == ["hola"]


def test_message_stays_readable_by_id(api):
    """00-rooms.ts '[GET] livechat/message/:_id' 'should return the message', and its
    failures without token or rid or for an unknown message."""
    api.visitor("t")
    rid = api.room("t").json()["room"]["_id"]
    api.post("livechat/message", {"token": "t", "rid": rid, "msg": "Hello", "_id": "m1"})
    found = api.get("livechat/message/m1", token="t", rid=rid)
    assert found.status_code == 200 and found.json()["message"]["msg"] == "Hello"
    assert api.get("livechat/message/m1", rid=rid).status_code == 400
    assert api.get("livechat/message/m1", token="t").status_code == 400
    assert error(api.get("livechat/message/nope", token="t", rid=rid)) == (400, "invalid-message")


def test_message_needs_its_fields_and_no_others(api):
    """rest-typings isPOSTLivechatMessageParams (ajv, additionalProperties false)."""
    api.visitor("t")
    rid = api.room("t").json()["room"]["_id"]
    assert api.post("livechat/message", {"token": "t", "rid": rid}).status_code == 400
    extra = {"token": "t", "rid": rid, "msg": "x", "other": 1}
    assert api.post("livechat/message", extra).json()["errorType"] == "invalid-params"


# ---- livechat/room.forward: 00-rooms.ts, transfer.ts, Helper.ts ------------------------------
@pytest.fixture
def served(api, rc) -> str:
    api.visitor("t", department="dep-norte")
    return api.room("t").json()["room"]["_id"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("missing", ["view-l-room", "transfer-livechat-guest"])
def test_forward_needs_both_permissions(api, rc, served, missing):
    """00-rooms.ts 'should return an "unauthorized error" when the user does not have
    "view-l-room" permission' and '... "transfer-livechat-guest" permission'."""
    rc.permissions.discard(missing)
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-luis"}, auth=True)
    assert answer.status_code == 403 and "unauthorized" in answer.json()["error"]


def test_forward_without_credentials_is_401(api, served):
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-luis"})
    assert answer.status_code == 401


def test_forward_without_a_target_fails(api, served):
    """00-rooms.ts 'should not be successful when no target (userId or departmentId) was
    specified'."""
    answer = api.post("livechat/room.forward", {"roomId": served}, auth=True)
    assert error(answer) == (400, "error-forwarding-chat")


def test_forward_to_an_available_agent_moves_the_room(api, rc, served):
    """00-rooms.ts 'should return a success message when transferred successfully to agent'."""
    rc.add_agent("u-marta", "marta", online=True)
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-marta"}, auth=True)
    assert answer.json() == {"success": True}
    assert rc.rooms[served]["servedBy"]["_id"] == "u-marta"


@pytest.mark.parametrize(
    "agent",
    [
        {"online": False},
        {"online": True, "available": False},
        {"online": True, "active": False},
        {"online": True, "agent": False},
    ],
    ids=["offline", "not-available", "inactive", "not-an-agent"],
)
def test_forward_to_an_agent_who_cannot_take_it_is_refused(api, rc, served, agent):
    """Helper.ts forwardRoomToAgent: Users.findOneOnlineAgentById finds nobody."""
    rc.add_agent("u-x", "x", **agent)
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-x"}, auth=True)
    assert error(answer) == (400, "error-user-is-offline")
    assert rc.rooms[served]["servedBy"]["_id"] == "u-luis"


def test_forward_to_a_deleted_user_is_refused(api, rc, served):
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-gone"}, auth=True)
    assert error(answer) == (400, "error-user-is-offline")


def test_forward_to_the_agent_serving_it_is_refused(api, served):
    """Helper.ts forwardRoomToAgent: error-selected-agent-room-agent-are-same."""
    answer = api.post("livechat/room.forward", {"roomId": served, "userId": "u-luis"}, auth=True)
    assert error(answer) == (400, "error-selected-agent-room-agent-are-same")


def test_forward_to_the_rooms_own_department_is_refused(api, rc, served):
    """Helper.ts forwardRoomToDepartment: error-forwarding-chat-same-department."""
    body = {"roomId": served, "departmentId": "dep-norte"}
    answer = api.post("livechat/room.forward", body, auth=True)
    assert error(answer) == (400, "error-forwarding-chat-same-department")
    assert rc.forwards == []


def test_forward_to_an_unknown_department_is_refused(api, served):
    """transfer.ts: LivechatDepartment.findOneById -> error-invalid-department."""
    body = {"roomId": served, "departmentId": "dep-nowhere"}
    assert error(api.post("livechat/room.forward", body, auth=True)) == (
        400,
        "error-invalid-department",
    )


def test_forward_of_a_closed_room_is_refused(api, rc, served):
    """room.ts room.forward: '!room.open' -> This_conversation_is_already_closed."""
    rc.close_room(served)
    body = {"roomId": served, "departmentId": "dep-sur"}
    assert error(api.post("livechat/room.forward", body, auth=True)) == (
        400,
        "This_conversation_is_already_closed",
    )


def test_forward_of_an_unknown_room_is_refused(api):
    body = {"roomId": "nope", "userId": "u-luis"}
    assert error(api.post("livechat/room.forward", body, auth=True)) == (400, "error-invalid-room")


# ---- returnAsInquiry: 05-inquiries.ts ---------------------------------------------------------
def test_return_as_inquiry(api, rc, served):
    """05-inquiries.ts 'should fail if provided room doesnt exists', 'should fail if room is
    closed', 'should fail if no one is serving the room' and 'should move a room back to
    queue' (REST route imports/server/rest/inquiries.ts)."""
    path = "livechat/inquiries.returnAsInquiry"
    assert error(api.post(path, {"roomId": "nope"}, auth=True)) == (400, "error-room-not-found")
    answer = api.post(path, {"roomId": served, "departmentId": "dep-norte"}, auth=True)
    assert answer.json() == {"result": True, "success": True}
    assert rc.rooms[served]["servedBy"] is None
    assert api.post(path, {"roomId": served}, auth=True).json()["result"] is False
    rc.close_room(served)
    assert error(api.post(path, {"roomId": served}, auth=True)) == (400, "room-closed")


def test_return_as_inquiry_needs_view_l_room(api, rc, served):
    rc.permissions.discard("view-l-room")
    answer = api.post("livechat/inquiries.returnAsInquiry", {"roomId": served}, auth=True)
    assert answer.status_code == 403


# ---- room.saveInfo: 00-rooms.ts ---------------------------------------------------------------
def test_save_info_needs_both_objects(api, served):
    """00-rooms.ts 'should throw an error if roomData is not provided' / 'guestData ...'."""
    assert (
        api.post("livechat/room.saveInfo", {"roomData": {"_id": served}}, auth=True).status_code
        == 400
    )
    assert (
        api.post("livechat/room.saveInfo", {"guestData": {"_id": "v"}}, auth=True).status_code
        == 400
    )


def test_save_info_by_someone_not_serving_needs_save_others(api, rc, served):
    """00-rooms.ts 'should not allow users to update room info without serving the chat or
    having "save-others-livechat-room-info" permission'."""
    rc.permissions.discard("save-others-livechat-room-info")
    body = {"roomData": {"_id": served, "topic": "x"}, "guestData": {"_id": "v"}}
    assert api.post("livechat/room.saveInfo", body, auth=True).status_code == 403


def test_save_info_replaces_tags_and_keeps_only_defined_room_fields(api, rc, served):
    """00-rooms.ts 'should allow user to update the room info' (topic, tags); lib/rooms.ts
    saveRoomInfo keeps only custom fields defined with scope room; saveRoomById unsets the
    tags when none are sent."""
    rc.add_custom_field("cartera", "Cartera", scope="room")
    body = {
        "roomData": {
            "_id": served,
            "topic": "new topic",
            "tags": ["tag1", "tag2"],
            "livechatData": {"cartera": "💎 Premium", "undefined": "x"},
        },
        "guestData": {"_id": "v"},
    }
    assert api.post("livechat/room.saveInfo", body, auth=True).status_code == 200
    room = rc.rooms[served]
    assert room["topic"] == "new topic" and room["tags"] == ["tag1", "tag2"]
    assert room["livechatData"] == {"cartera": "💎 Premium"}
    body["roomData"] = {"_id": served}
    api.post("livechat/room.saveInfo", body, auth=True)
    assert rc.rooms[served]["tags"] == []


# ---- users/agent, rate limiter -----------------------------------------------------------------
def test_agent_lookup(api, rc):
    """imports/server/rest/users.ts livechat/users/agent/:_id: no `active` field, null for
    a user who is not an agent, 400 for a user who does not exist."""
    rc.add_agent("u-plain", "plain", agent=False)
    found = api.get("livechat/users/agent/u-luis", auth=True).json()["user"]
    assert found["statusLivechat"] == "available" and "active" not in found
    assert api.get("livechat/users/agent/u-plain", auth=True).json()["user"] is None
    assert error(api.get("livechat/users/agent/u-gone", auth=True)) == (400, "User not found")


def test_visitor_routes_are_rate_limited_per_address_and_the_bot_bypass_does_not_apply(clock):
    """ApiClass.ts: livechat/visitor and livechat/room allow 5 calls a minute per client
    address (rateLimiterOptions in visitor.ts and room.ts); api-bypass-rate-limit only
    counts on authenticated routes; X-RateLimit-Reset is epoch milliseconds."""
    with FakeRocketChat(clock=clock) as rc:
        api = Api(rc)
        answers = [
            requests.post(
                f"{rc.url}/api/v1/livechat/visitor",
                json={"visitor": {"token": f"t{i}"}},
                headers=AUTH,  # the bot's credentials do not lift the limit here
                timeout=5,
            )
            for i in range(6)
        ]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        refused = answers[-1]
        assert refused.json()["error"].endswith("[error-too-many-requests]")
        reset = int(refused.headers["X-RateLimit-Reset"])
        assert reset == int((clock.now + 60) * 1000)
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # another route keeps its own budget, authenticated calls bypass it
        assert api.get("livechat/users/agent/x", auth=True).status_code != 429
        clock.now += 61
        assert api.post("livechat/visitor", {"visitor": {"token": "late"}}).status_code == 200


def test_other_routes_have_the_default_budget(clock):
    """ApiClass.ts: every route without its own options gets
    API_Enable_Rate_Limiter_Limit_Calls_Default (10) per minute."""
    with FakeRocketChat(clock=clock) as rc:
        api = Api(rc)
        codes = [api.get("livechat/message/x", token="t", rid="r").status_code for _ in range(11)]
        assert codes[:10] == [400] * 10 and codes[10] == 429
