"""Routing end to end: webhook -> job -> decision -> fake Rocket.Chat over HTTP -> badge."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.jobs import sweeper
from service.models import Conversation, InboxMessage
from tests.webhooks.conftest import whatsapp_text

PHONE = "5215512345678"  # WhatsApp id of +52 55 1234 5678


def conversations(app):
    with app.app_context():
        rows = list(db.session.scalars(sa.select(Conversation).order_by(Conversation.id)))
        db.session.expunge_all()
        return rows


def test_owner_online_gets_the_conversation_with_tag_and_badge(app, rc, badges, post, org):
    assert post.whatsapp(whatsapp_text("wamid.1", sender=PHONE)).status_code == 200
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason, conv.agent_id) == ("agent", "owner_agent", org["luis"])
    assert conv.cartera_name == "Premium" and conv.trace["presence"]["available"] is True
    room = rc.rooms[conv.rc_room_id]
    assert room["tags"] == ["cartera:Premium", "equipo:Norte"]
    assert room["livechatData"] == {"cartera": "💎 Premium"}
    assert room["topic"] == "💎 Premium"  # shown in the room header
    assert room["servedBy"]["_id"] == "u-luis"  # given by livechat/room?agentId=
    assert rc.forwards == []  # so no forward is needed
    assert [m["msg"] for m in rc.messages] == ["Hola"]
    assert rc.messages[0]["_id"] == f"carteras-{post.rows()[0].id}"
    ((payload, rooms),) = badges.sent
    # the owner, and whoever may see the cartera; not the whole team (a colleague's own)
    assert rooms == [f"agent:{org['luis']}", f"cartera:{org['premium']}", "carteras:all"]
    assert payload["cartera"] == {
        "id": org["premium"],
        "name": "Premium",
        "icon": "💎",
        "color": "#1E88E5",
    }
    assert payload["contact"]["name"] == "Lucía" and payload["reason"] == "owner_agent"
    assert post.rows()[0].status == "processed"


def test_owner_offline_goes_to_the_department(app, rc, post, org):
    rc.set_online("u-luis", False)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason, conv.department_id) == (
        "team",
        "owner_offline_team",
        "dep-norte",
    )
    # registered in the department, the room opens in it and Rocket.Chat gives it to an
    # online agent of the team: no forward (a same-department forward is refused)
    room = rc.rooms[conv.rc_room_id]
    assert room["departmentId"] == "dep-norte" and room["servedBy"]["_id"] == "u-marta"
    assert rc.calls_to("livechat/room.forward") == []
    assert conv.forwarded_to == "department:dep-norte"


def test_team_only_cartera_goes_to_the_department(app, rc, post, make, org):
    shared = make.cartera("Compartida", org["team"], None, "🤝")
    make.contact("Beto", shared, phones=["+52 55 2222 2222"])
    post.whatsapp(whatsapp_text("wamid.2", sender="5215522222222", name="Beto"))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("team", "team_only_cartera")
    assert rc.rooms[conv.rc_room_id]["tags"] == ["cartera:Compartida", "equipo:Norte"]


def test_inactive_cartera_goes_to_the_default_queue_untagged(app, rc, post, coordinator, org):
    coordinator.post(f"/api/carteras/{org['premium']}/deactivate")
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("queue", "cartera_inactive")
    assert rc.forwards == [] and rc.rooms[conv.rc_room_id]["tags"] == []


def test_unknown_sender_goes_to_the_default_queue_as_a_new_contact(app, rc, post, org):
    post.whatsapp(whatsapp_text("wamid.9", sender="5215599999999", name="Nueva"))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason, conv.cartera_id) == ("queue", "no_cartera", None)
    assert any(name == "Nueva" for name, _, _ in post.contacts())
    assert rc.forwards == []


def test_later_messages_stay_in_the_conversation(app, rc, post, org):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="uno"))
    rc.set_online("u-luis", False)  # would change the decision, but the conversation is sticky
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="dos"))
    (conv,) = conversations(app)
    assert conv.reason == "owner_agent"
    assert [m["msg"] for m in rc.messages] == ["uno", "dos"]
    assert len(rc.rooms) == 1 and len(rc.calls_to("livechat/room")) == 1
    assert {r.conversation_id for r in post.rows()} == {conv.id}


def test_a_reopened_conversation_follows_the_current_owner(app, rc, post, coordinator, org):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    first = conversations(app)[0]
    # the cartera changes hands, and Rocket.Chat closes the room (no webhook seen)
    coordinator.patch(f"/api/carteras/{org['premium']}", {"agent_id": org["marta"]})
    rc.close_room(first.rc_room_id)
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="otra vez"))
    old, new = conversations(app)
    assert old.status == "closed" and old.agent_id == org["luis"]  # history kept
    assert new.status == "open" and new.agent_id == org["marta"]
    assert rc.rooms[new.rc_room_id]["servedBy"]["_id"] == "u-marta"
    assert new.rc_room_id != old.rc_room_id


def test_owner_timeout_hands_the_conversation_to_the_team(
    app, rc, post, coordinator, org, now_clock
):
    clock = now_clock
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert conv.routed_to == "agent" and conv.owner_deadline_at is not None
    with app.app_context():
        assert sweeper.fallback_overdue() == 0  # not yet
    clock.current += timedelta(seconds=31)
    with app.app_context():
        assert sweeper.fallback_overdue() == 1
        assert sweeper.fallback_overdue() == 0  # once
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("team", "owner_timeout_team")
    assert conv.trace["events"][-1]["event"] == "owner_timeout"
    assert rc.forwards == [
        {
            "roomId": conv.rc_room_id,
            "departmentId": "dep-norte",
            "comment": "Cartera 💎 Premium: asignada al equipo (el dueño no la tomó a tiempo)",
        }
    ]
    assert rc.rooms[conv.rc_room_id]["servedBy"]["_id"] == "u-marta"  # Luis no longer has it


def test_the_fallback_is_scheduled_once_the_forward_is_committed(
    app, rc, post, coordinator, org, monkeypatch
):
    """The forward to the owner and the row's end share the job's last commit; the owner's
    fallback is scheduled after it, so the fallback job always finds the forward (read here
    from another connection at the moment it is scheduled)."""
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    seen = []
    jobs = app.extensions["ports"].jobs
    schedule = jobs.enqueue_at

    def enqueue_at(when, queue, func, *args, **kwargs):
        if func.endswith("owner_fallback"):
            with db.engine.connect() as other:  # not the job's session: what is committed
                seen.append(
                    other.execute(
                        sa.select(Conversation.forwarded_at, Conversation.owner_deadline_at)
                    ).one()
                )
                seen.append(other.execute(sa.select(InboxMessage.status)).scalar_one())
        return schedule(when, queue, func, *args, **kwargs)

    monkeypatch.setattr(jobs, "enqueue_at", enqueue_at)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    (forwarded_at, deadline), status = seen
    assert forwarded_at is not None and deadline is not None and status == "processed"
    assert conv.owner_deadline_at is not None


def test_an_owner_at_the_limit_of_open_chats_hands_new_ones_to_the_team(
    app, rc, post, coordinator, org, make
):
    """The owner's open chats are read with the cartera (one query): at the limit, the next
    customer's conversation goes to the team, and the trace says how many were open."""
    coordinator.patch(f"/api/agents/{org['luis']}", {"max_open_chats": 1})
    make.contact("Beto", org["premium"], phones=["+52 55 2222 3333"])
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    post.whatsapp(whatsapp_text("wamid.2", sender="5215522223333"))
    first, second = conversations(app)
    assert (first.routed_to, first.reason) == ("agent", "owner_agent")
    assert first.trace["owner_open_chats"] == 0
    assert (second.routed_to, second.reason) == ("team", "owner_busy_team")
    assert second.trace["owner_open_chats"] == 1


def test_owner_who_answers_in_time_keeps_it(app, rc, post, coordinator, org, now_clock, client):
    from tests import samples

    clock = now_clock
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    answer = samples.raw("rocketchat/agent-message.json").replace(
        b"Rm4tQ8vLx2NpK7cYd", conv.rc_room_id.encode()
    )
    client.post(
        "/webhooks/rocketchat",
        data=answer,
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    clock.current += timedelta(seconds=60)
    with app.app_context():
        assert sweeper.fallback_overdue() == 0
    (conv,) = conversations(app)
    assert conv.taken_at is not None and conv.routed_to == "agent"


def test_outside_business_hours_skips_the_owner(app, rc, post, coordinator, org):
    closed_all_week = {"timezone": "America/Mexico_City", "weekly": {}}
    coordinator.patch(f"/api/carteras/{org['premium']}", {"business_hours": closed_all_week})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    assert (conv.routed_to, conv.reason) == ("team", "outside_hours_team")
    assert "presence" not in conv.trace  # the owner was not even asked about


def test_owner_at_the_chat_limit(app, rc, post, coordinator, make, org):
    coordinator.patch(f"/api/agents/{org['luis']}", {"max_open_chats": 1})
    make.contact("Otro", org["premium"], phones=["+52 55 3333 3333"])
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    post.whatsapp(whatsapp_text("wamid.2", sender="5215533333333", name="Otro"))
    first, second = conversations(app)
    assert first.reason == "owner_agent" and second.reason == "owner_busy_team"


def test_rocketchat_down_fails_and_replay_routes_once(app, rc, post, coordinator, org):
    rc.down = True
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (row,) = post.rows()
    assert row.status == "failed" and "ChatPlatformUnavailable" in row.last_error
    assert coordinator.get("/api/inbox?status=failed").json["total"] == 1
    rc.down = False
    result = app.test_cli_runner().invoke(args=["inbox", "replay", "--id", str(row.id)])
    assert "replayed=1" in result.output
    assert post.rows()[0].status == "processed"
    assert len(rc.rooms) == 1 and len(rc.messages) == 1
    assert rc.rooms[conversations(app)[0].rc_room_id]["servedBy"]["_id"] == "u-luis"


def test_a_failure_halfway_resumes_without_doubling_anything(app, rc, post, org):
    """The visitor is kept with the conversation; the room, the post, the badge and the
    forward with the job's last commit: a retry asks Rocket.Chat for the room again (it
    answers the same one), posts the same id again (refused, read back: one message), tags
    again, and finds the room in the team's department already (no forward)."""
    rc.set_online("u-luis", False)
    rc.fail("livechat/room.saveInfo", status=500, times=1)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (row,) = post.rows()
    assert row.status == "failed" and row.rc_message_id is None
    (conv,) = conversations(app)
    assert conv.rc_visitor_token and conv.rc_room_id is None
    assert conv.rc_tagged_at is None and conv.forwarded_to is None
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    assert len(rc.calls_to("livechat/visitor")) == 1 and len(rc.calls_to("livechat/room")) == 2
    assert len(rc.rooms) == 1 and len(rc.messages) == 1  # the same room, the message once
    assert len(rc.calls_to("livechat/message")) == 2  # the second refused as a duplicate
    assert len(rc.calls_to("livechat/room.saveInfo")) == 2  # the failed one and the retry
    (conv,) = conversations(app)
    assert conv.rc_room_id in rc.rooms and conv.forwarded_to == "department:dep-norte"
    assert rc.forwards == []  # registered in the department, the room opened in it
    (row,) = post.rows()
    assert row.status == "processed" and row.rc_message_id == rc.messages[0]["_id"]


def test_chat_started_in_rocketchat_is_tagged_and_sent_to_the_owner(app, rc, client, make, org):
    from tests import samples

    make.contact("Jorge", org["premium"], phones=["+54 9 11 4440 0011"])
    body = samples.raw("rocketchat/chat-start.json")
    rc.visitors["3e9b1f0c7a2d4e6f8a0b2c4d6e8f0a1b"] = {
        "_id": "6650a0b1c2d3e4f5a6b7c8d9",
        "token": "3e9b1f0c7a2d4e6f8a0b2c4d6e8f0a1b",
    }
    rc.rooms["Rm4tQ8vLx2NpK7cYd"] = {
        "_id": "Rm4tQ8vLx2NpK7cYd",
        "open": True,
        "tags": ["vip"],
        "livechatData": {},
        "servedBy": None,
        "v": {"token": "3e9b1f0c7a2d4e6f8a0b2c4d6e8f0a1b"},
    }
    response = client.post(
        "/webhooks/rocketchat",
        data=body,
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    assert response.status_code == 200
    (conv,) = conversations(app)
    assert conv.channel == "webchat" and conv.reason == "owner_agent"
    room = rc.rooms["Rm4tQ8vLx2NpK7cYd"]
    assert room["tags"] == ["vip", "cartera:Premium", "equipo:Norte"]  # merged, not replaced
    assert room["servedBy"]["_id"] == "u-luis"
    assert rc.calls_to("livechat/message") == []  # the message is already in Rocket.Chat


def test_closing_webhook_closes_the_conversation(app, rc, client, post, org):
    from tests import samples

    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    (conv,) = conversations(app)
    close = samples.raw("rocketchat/chat-close.json").replace(
        b"Xc8pKq2rTz4mN7bLw", conv.rc_room_id.encode()
    )
    client.post(
        "/webhooks/rocketchat",
        data=close,
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    (conv,) = conversations(app)
    assert conv.status == "closed" and conv.closed_at is not None
    with app.app_context():
        kinds = db.session.scalars(sa.select(InboxMessage.kind).order_by(InboxMessage.id)).all()
    assert kinds == ["text", "LivechatSession"]


def test_conversations_api_filters_visibility_and_history(
    app, rc, post, coordinator, as_agent, make, org
):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    post.whatsapp(whatsapp_text("wamid.9", sender="5215599999999", name="Nueva"))
    listed = coordinator.get("/api/conversations").json
    assert listed["total"] == 2
    routed = next(c for c in listed["items"] if c["reason"] == "owner_agent")
    assert routed["cartera"] == {
        "id": org["premium"],
        "name": "Premium",
        "icon": "💎",
        "color": "#1E88E5",
    }
    assert routed["agent"] == {"id": org["luis"], "name": "Luis"}
    assert routed["routed_to"] == "agent" and routed["room_id"].startswith("room")
    assert routed["contact"]["name"] == "Lucía" and routed["trace"]["owner"]["id"] == org["luis"]

    def ids(query):
        return [c["id"] for c in coordinator.get(f"/api/conversations?{query}").json["items"]]

    assert ids(f"cartera_id={org['premium']}") == [routed["id"]]
    assert ids(f"agent_id={org['luis']}") == [routed["id"]]
    assert ids(f"contact_id={org['contact']}") == [routed["id"]]
    assert len(ids("channel=whatsapp")) == 2 and ids("channel=email") == []
    assert len(ids("status=open")) == 2
    assert coordinator.get("/api/conversations?channel=pigeon").status_code == 422

    # the cartera is renamed and reassigned: the routed conversation keeps what it was
    coordinator.patch(f"/api/carteras/{org['premium']}", {"name": "Oro", "agent_id": org["marta"]})
    again = coordinator.get(f"/api/conversations/{routed['id']}").json
    assert again["cartera"]["name"] == "Premium" and again["agent"]["name"] == "Luis"

    # the new customer has no cartera: everyone's (DESIGN.md "Access")
    unassigned = next(c["id"] for c in listed["items"] if c["id"] != routed["id"])
    luis = as_agent(org["luis"], "luis-login")
    assert [c["id"] for c in luis.get("/api/conversations").json["items"]] == [
        unassigned,
        routed["id"],
    ]
    assert luis.get(f"/api/conversations/{routed['id']}").status_code == 200
    other_team = make.team("Sur")
    pablo = make.agent("Pablo", [other_team])
    outsider = as_agent(pablo, "pablo-login")
    assert [c["id"] for c in outsider.get("/api/conversations").json["items"]] == [unassigned]
    assert outsider.get(f"/api/conversations/{routed['id']}").status_code == 404


def routing_get(client, query="", token="ext-token"):
    headers = {"X-RocketChat-Secret-Token": token} if token else {}
    return client.get(f"/routing/rocketchat{query}", headers=headers)


@pytest.fixture
def external(app, monkeypatch):
    config = app.config["CARTERAS"]
    monkeypatch.setitem(
        app.config, "CARTERAS", config.with_overrides(rocketchat_routing_token="ext-token")
    )


def refresh_presence(app):
    from service.jobs.presence import refresh_presence

    with app.app_context():
        return refresh_presence()


def test_external_routing_names_the_owner_of_the_waiting_chat(app, rc, client, post, org, external):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    assert refresh_presence(app) == 2
    answer = routing_get(client, "?departmentId=dep-norte")
    assert answer.status_code == 200 and answer.json == {"_id": "u-luis", "username": "luis"}
    # Rocket.Chat wants someone else (a transfer): the least busy team mate
    other = routing_get(client, "?departmentId=dep-norte&ignoreAgentId=u-luis")
    assert other.json == {"_id": "u-marta", "username": "marta"}
    assert routing_get(client, "?departmentId=dep-nowhere").json == {}


def test_external_routing_checks_its_token(client, app, monkeypatch, external):
    assert routing_get(client, token=None).status_code == 401
    assert routing_get(client, token="wrong").status_code == 401
    config = app.config["CARTERAS"]
    monkeypatch.setitem(
        app.config, "CARTERAS", config.with_overrides(rocketchat_routing_token=None)
    )
    assert routing_get(client).status_code == 503


def test_external_routing_names_only_agents_rocketchat_shows_available(
    app, rc, client, post, org, external
):
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    assert routing_get(client, "?departmentId=dep-norte").json == {}  # presence never seen
    rc.set_online("u-luis", False)
    assert refresh_presence(app) == 1
    # the owner is offline: Rocket.Chat would refuse him, so his team mate is named
    assert routing_get(client, "?departmentId=dep-norte").json == {
        "_id": "u-marta",
        "username": "marta",
    }
    rc.set_online("u-marta", False)
    refresh_presence(app)
    assert routing_get(client, "?departmentId=dep-norte").json == {}


def test_external_routing_skips_an_owner_whose_wait_ran_out(
    app, rc, client, post, coordinator, org, external, now_clock
):
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    refresh_presence(app)
    assert routing_get(client, "?departmentId=dep-norte").json["username"] == "luis"
    now_clock.current += timedelta(seconds=31)
    # the fallback has not run yet, but Luis let the chat wait: the team mate is named
    with app.app_context():
        from service.domain.conversations import external_choice

        assert external_choice(
            db.session(), "dep-norte", None, now_clock.current, presence_age=timedelta(days=1)
        ) == ("u-marta", "marta")
