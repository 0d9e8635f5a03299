"""Portfolio lifecycle: handover when an agent leaves, ownership history, shared carteras."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.extensions import db
from service.models import AuditEvent, Conversation
from tests.webhooks.conftest import Posting, whatsapp_text


@pytest.fixture
def org(make):
    norte = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [norte], rocketchat_user_id="u-luis")
    marta = make.agent("Marta", [norte], rocketchat_user_id="u-marta")
    premium = make.cartera("Premium", norte, luis, "💎")
    oro = make.cartera("Oro", norte, luis, "👑")
    lucia = make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    pedro = make.contact("Pedro", oro, phones=["+52 55 8765 4321"])
    return {
        "norte": norte,
        "luis": luis,
        "marta": marta,
        "premium": premium,
        "oro": oro,
        "lucia": lucia,
        "pedro": pedro,
    }


def test_handover_moves_every_cartera_in_one_audited_action(
    app, client, rc, badges, coordinator, org
):
    post = Posting(client, app)
    post.whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    dry = coordinator.post(
        f"/api/agents/{org['luis']}/handover?dry_run=true",
        {"to_agent_id": org["marta"], "deactivate_agent": True, "open_conversations": "reforward"},
    )
    assert dry.status_code == 200 and dry.json["applied"] is False
    assert [c["name"] for c in dry.json["carteras"]] == ["Oro", "Premium"]
    assert len(dry.json["conversation_ids"]) == 1
    assert coordinator.get(f"/api/carteras/{org['premium']}").json["agent_id"] == org["luis"]

    done = coordinator.post(
        f"/api/agents/{org['luis']}/handover",
        {"to_agent_id": org["marta"], "deactivate_agent": True, "open_conversations": "reforward"},
    )
    assert done.status_code == 200 and done.json["applied"] is True
    for cartera in ("premium", "oro"):
        assert coordinator.get(f"/api/carteras/{org[cartera]}").json["agent_id"] == org["marta"]
    assert coordinator.get(f"/api/agents/{org['luis']}").json["active"] is False
    events = coordinator.get("/api/audit?event=handover").json["items"]
    assert len(events) == 1
    assert sorted(c["name"] for c in events[0]["details"]["carteras"]) == ["Oro", "Premium"]

    # the open conversation went to Marta now, and says why
    (conv,) = coordinator.get("/api/conversations").json["items"]
    assert conv["agent"]["name"] == "Marta" and conv["trace"]["events"][-1]["event"] == "handover"
    assert rc.forwards[-1]["userId"] == "u-marta"

    # the next customer of one of those carteras reaches Marta, with the badge
    post.whatsapp(whatsapp_text("wamid.2", sender="5215587654321", name="Pedro"))
    newest = coordinator.get(f"/api/conversations?contact_id={org['pedro']}").json["items"][0]
    assert newest["agent"]["name"] == "Marta" and newest["reason"] == "owner_agent"
    assert badges.sent[-1][1][0] == f"agent:{org['marta']}"
    assert badges.sent[-1][0]["cartera"]["name"] == "Oro"

    # the contact's history shows both owners
    history = coordinator.get(f"/api/contacts/{org['lucia']}/history").json
    owners = [
        (e["event"], (e["after"]["agent"] or {}).get("name"))
        for e in history["timeline"]
        if e["type"] == "owner_change"
    ]
    assert ("created", "Luis") in owners and ("handover", "Marta") in owners
    conversation = next(e for e in history["timeline"] if e["type"] == "conversation")
    assert conversation["cartera"]["name"] == "Premium"
    assert any(
        e["type"] == "membership" and e["event"] == "contact_added" for e in history["timeline"]
    )


def test_team_only_handover_and_leave_open_conversations(app, client, rc, coordinator, org):
    Posting(client, app).whatsapp(whatsapp_text("wamid.1", sender="5215512345678"))
    response = coordinator.post(f"/api/agents/{org['luis']}/handover", {"to_agent_id": None})
    assert response.status_code == 200 and response.json["conversation_ids"] == []
    cartera = coordinator.get(f"/api/carteras/{org['premium']}").json
    assert cartera["agent_id"] is None and cartera["team_id"] == org["norte"]
    (conv,) = coordinator.get("/api/conversations").json["items"]
    assert conv["agent"]["name"] == "Luis"  # left as it was, history intact
    assert coordinator.get(f"/api/agents/{org['luis']}").json["active"] is True


def test_handover_validation(coordinator, make, org):
    sur = make.team("Sur")
    pablo = make.agent("Pablo", [sur])
    not_in_team = coordinator.post(f"/api/agents/{org['luis']}/handover", {"to_agent_id": pablo})
    assert not_in_team.status_code == 422
    assert sorted(not_in_team.json["error"]["details"]["carteras"]) == ["Oro", "Premium"]
    assert (
        coordinator.post(
            f"/api/agents/{org['luis']}/handover", {"to_agent_id": org["luis"]}
        ).status_code
        == 422
    )
    assert coordinator.post("/api/agents/999/handover", {"to_agent_id": None}).status_code == 404
    solo = make.agent("Solo")
    make.cartera("Personal", None, solo, "🙋")
    team_only = coordinator.post(f"/api/agents/{solo}/handover", {"to_agent_id": None})
    assert team_only.status_code == 422 and team_only.json["error"]["details"]["carteras"] == [
        "Personal"
    ]
    assert coordinator.get("/api/audit?event=handover").json["total"] == 0


def test_history_follows_moves_between_carteras(coordinator, make, org):
    coordinator.post(
        f"/api/carteras/{org['oro']}/contacts", {"contact_ids": [org["lucia"]], "move": True}
    )
    coordinator.patch(f"/api/carteras/{org['oro']}", {"agent_id": org["marta"]})
    timeline = coordinator.get(f"/api/contacts/{org['lucia']}/history").json["timeline"]
    kinds = [(e["type"], e["event"]) for e in timeline]
    assert ("membership", "contact_moved") in kinds
    moved = next(e for e in timeline if e["event"] == "contact_moved")
    assert moved["from"]["cartera"] == "Premium" and moved["to"]["cartera"] == "Oro"
    change = [e for e in timeline if e["type"] == "owner_change" and e["event"] == "updated"]
    assert change[-1]["before"]["agent"]["name"] == "Luis"
    assert change[-1]["after"]["agent"]["name"] == "Marta"


def test_an_agent_with_three_carteras_across_two_teams(app, as_agent, make):
    norte = make.team("Norte", rocketchat_department_id="dep-norte")
    sur = make.team("Sur", rocketchat_department_id="dep-sur")
    ana = make.agent("Ana", [norte, sur], rocketchat_user_id="u-ana")
    other = make.agent("Otro", [sur])
    premium = make.cartera("Premium", norte, ana, "💎")
    vip = make.cartera("Sur VIP", sur, ana, "⭐")
    shared = make.cartera("Compartida Sur", sur, None, "🤝")
    foreign = make.cartera("Ajena", None, other, "🚫")
    for name, cartera in (("Uno", premium), ("Dos", vip), ("Tres", shared), ("Cuatro", foreign)):
        make.contact(name, cartera)
    agent = as_agent(ana, "ana-login")
    carteras = [c["name"] for c in agent.get("/api/carteras").json["items"]]
    assert carteras == ["Compartida Sur", "Premium", "Sur VIP"]
    contacts = sorted(c["name"] for c in agent.get("/api/contacts").json["items"])
    assert contacts == ["Dos", "Tres", "Uno"]
    with app.app_context():
        from service.domain.actor import Actor
        from service.domain.conversations import live_rooms

        rooms = live_rooms(db.session(), Actor(None, "Ana", "agent", agent_id=ana))
    # her own carteras and her team's shared one each have a room; a colleague's own has not
    assert rooms == [
        f"agent:{ana}",
        f"team:{norte}",
        f"team:{sur}",
        *(f"cartera:{c}" for c in sorted((premium, vip, shared))),
    ]


def test_history_is_read_from_the_audit_log(app, coordinator, org):
    with app.app_context():
        memberships = db.session.scalar(
            sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.related_id == org["lucia"])
        )
        assert (
            memberships == 1 and db.session.scalar(sa.select(sa.func.count(Conversation.id))) == 0
        )
    timeline = coordinator.get(f"/api/contacts/{org['lucia']}/history").json["timeline"]
    assert [e["type"] for e in timeline].count("membership") == 1
