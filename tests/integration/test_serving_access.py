"""Issue 12: an agent sees the contact of a conversation it serves while it is open, also
when it took the team fallback of a colleague's own cartera or got it by a forward, which
Rocket.Chat tells us by the ``agent`` (room ``servedBy``) of its webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from service.extensions import db
from service.jobs import sweeper
from service.models import Conversation
from tests import samples
from tests.webhooks.conftest import whatsapp_text

PHONE = "5215512345678"  # Lucía, in Luis's own cartera Premium


def rocketchat_event(client, name: str, room_id: str, **changes) -> None:
    body = json.loads(samples.raw(f"rocketchat/{name}"))
    body["_id"] = room_id
    for message in body.get("messages") or []:
        message["rid"] = room_id
    body.update(changes)
    response = client.post(
        "/webhooks/rocketchat",
        data=json.dumps(body),
        content_type="application/json",
        headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def the_conversation(app) -> Conversation:
    with app.app_context():
        row = db.session.scalars(sa.select(Conversation)).one()
        db.session.expunge(row)
        return row


MARTA = {"_id": "u-marta", "username": "marta", "name": "Marta"}


def test_the_colleague_who_takes_the_team_fallback_sees_the_contact_while_it_is_open(
    app, rc, post, coordinator, org, now_clock, client, as_agent
):
    marta = as_agent(org["marta"], "marta-user")
    coordinator.patch(f"/api/carteras/{org['premium']}", {"owner_timeout_seconds": 30})
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    # Luis's own cartera: Marta, of the same team, does not see Lucía
    assert marta.get(f"/api/contacts/{org['contact']}").status_code == 404
    now_clock.current += timedelta(seconds=31)
    with app.app_context():
        assert sweeper.fallback_overdue() == 1
    conv = the_conversation(app)
    assert marta.get(f"/api/contacts/{org['contact']}").status_code == 404  # not hers yet
    rocketchat_event(client, "agent-message.json", conv.rc_room_id, agent=MARTA)
    conv = the_conversation(app)
    assert conv.served_by_agent_id == org["marta"]
    assert marta.get(f"/api/contacts/{org['contact']}").json["name"] == "Lucía"
    assert marta.get(f"/api/conversations/{conv.id}").status_code == 200
    rocketchat_event(client, "chat-close.json", conv.rc_room_id)
    assert marta.get(f"/api/contacts/{org['contact']}").status_code == 404
    assert marta.get(f"/api/conversations/{conv.id}").status_code == 404


def test_a_chat_taken_or_forwarded_in_rocketchat_follows_the_agent_serving_it(
    app, rc, post, org, client, as_agent, make
):
    pablo = make.agent(
        "Pablo", [org["team"]], rocketchat_user_id="u-pablo", rocketchat_username="pablo"
    )
    marta, pablo_api = as_agent(org["marta"], "marta-user"), as_agent(pablo, "pablo-user")
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE))
    room = the_conversation(app).rc_room_id
    base = {"type": "LivechatSessionTaken", "departmentId": "dep-norte"}
    rocketchat_event(client, "chat-start.json", room, **base, servedBy=MARTA, agent=MARTA)
    assert marta.get(f"/api/contacts/{org['contact']}").status_code == 200
    forwarded = {"_id": "u-pablo", "username": "pablo"}
    rocketchat_event(
        client,
        "chat-start.json",
        room,
        type="LivechatSessionForwarded",
        departmentId="dep-norte",
        servedBy=forwarded,
        agent=forwarded,
        oldServedBy=MARTA,
    )
    conv = the_conversation(app)
    assert conv.served_by_agent_id == pablo
    assert [e["event"] for e in conv.trace["events"] if e["event"] == "serving"] == [
        "serving",
        "serving",
    ]
    assert pablo_api.get(f"/api/contacts/{org['contact']}").status_code == 200
    assert marta.get(f"/api/contacts/{org['contact']}").status_code == 404
    # an agent we do not know changes nothing
    stranger = {"_id": "u-nobody", "username": "nobody"}
    rocketchat_event(
        client, "chat-start.json", room, type="LivechatSessionForwarded", servedBy=stranger
    )
    assert the_conversation(app).served_by_agent_id == pablo
