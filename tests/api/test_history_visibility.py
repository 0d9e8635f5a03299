"""A contact's history shows an agent only the conversations it may open itself."""

from datetime import UTC, datetime

from service.extensions import db
from service.models import Conversation


def routed(app, contact, cartera, cartera_name, agent, agent_name, thread, when):
    with app.app_context():
        row = Conversation(
            contact_id=contact,
            channel="whatsapp",
            provider="meta",
            thread_key=thread,
            status="closed",
            cartera_id=cartera,
            cartera_name=cartera_name,
            cartera_icon="💎",
            agent_id=agent,
            agent_name=agent_name,
            routed_to="agent",
            reason="owner_agent",
            trace={},
            opened_at=when,
            last_message_at=when,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def test_agent_sees_its_own_conversations_not_a_colleagues(app, make, coordinator, as_agent):
    norte, sur = make.team("Norte"), make.team("Sur")
    luis, pablo = make.agent("Luis", [norte]), make.agent("Pablo", [sur])
    premium = make.cartera("Premium", norte, luis, "💎")
    sur_vip = make.cartera("Sur VIP", sur, pablo, "⭐")
    lucia = make.contact("Lucía", sur_vip, phones=["+52 55 1234 5678"])
    old = routed(
        app, lucia, sur_vip, "Sur VIP", pablo, "Pablo", "t1", datetime(2026, 1, 5, tzinfo=UTC)
    )
    coordinator.post(f"/api/carteras/{premium}/contacts", {"contact_ids": [lucia], "move": True})
    mine = routed(
        app, lucia, premium, "Premium", luis, "Luis", "t2", datetime(2026, 2, 5, tzinfo=UTC)
    )

    def conversations(api):
        timeline = api.get(f"/api/contacts/{lucia}/history").json["timeline"]
        return [e["conversation_id"] for e in timeline if e["type"] == "conversation"]

    agent = as_agent(luis, "luis-login")
    assert conversations(agent) == [mine]
    assert agent.get(f"/api/conversations/{old}").status_code == 404  # the same rule
    assert agent.get(f"/api/conversations/{mine}").status_code == 200
    assert conversations(coordinator) == [old, mine]
    # and in the page: the contact's conversations list
    from tests.ui.conftest import Browser, csrf

    make.user("luis@example.com", "agent", luis)
    browser = Browser(app.test_client())
    page = browser.get("/ingresar").get_data(as_text=True)
    browser.client.post(
        "/ingresar",
        data={
            "csrf_token": csrf(page),
            "email": "luis@example.com",
            "password": "una-clave-segura",
        },
    )
    html = browser.get(f"/contactos/{lucia}").get_data(as_text=True)
    assert "Premium" in html and "Sur VIP" not in html and "Pablo" not in html
