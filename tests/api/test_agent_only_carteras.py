"""A cartera owned by an agent alone (no team) is that agent's everywhere: API lists and
details, its contacts, conversations and history, and the pages. An agent actor without an
agent sees nothing, not even carteras without an owner agent."""

from datetime import UTC, datetime

from service.domain import carteras, contacts
from service.domain.actor import Actor
from service.extensions import db
from service.models import Conversation
from tests.ui.conftest import PASSWORD, Browser


def solo_world(app, make):
    """Sol (no team) owns 'Solo VIP' with Rita; Norte's team-only 'Compartida' has Beto."""
    norte = make.team("Norte")
    sol = make.agent("Sol", [], email="sol@example.com")
    solo = make.cartera("Solo VIP", None, sol, "🌞")
    compartida = make.cartera("Compartida", norte, None, "🤝")
    rita = make.contact("Rita", solo, phones=["+52 55 7777 7777"])
    beto = make.contact("Beto", compartida, phones=["+52 55 2222 2222"])
    with app.app_context():
        when = datetime(2026, 11, 20, tzinfo=UTC)
        conversation = Conversation(
            contact_id=rita,
            channel="whatsapp",
            provider="meta",
            thread_key="+5215577777777",
            status="open",
            cartera_id=solo,
            cartera_name="Solo VIP",
            cartera_icon="🌞",
            agent_id=sol,
            agent_name="Sol",
            routed_to="agent",
            reason="owner_agent",
            trace={},
            opened_at=when,
            last_message_at=when,
        )
        db.session.add(conversation)
        db.session.commit()
        return dict(
            sol=sol,
            solo=solo,
            compartida=compartida,
            rita=rita,
            beto=beto,
            conversation=conversation.id,
        )


def names(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["name"] for item in response.json["items"]]


def test_an_agent_without_a_team_sees_the_cartera_it_owns_in_the_api(app, make, as_agent):
    ids = solo_world(app, make)
    sol = as_agent(ids["sol"], "sol-token")
    assert names(sol.get("/api/carteras")) == ["Solo VIP"]
    assert sol.get(f"/api/carteras/{ids['solo']}").json["name"] == "Solo VIP"
    assert sol.get(f"/api/carteras/{ids['compartida']}").status_code == 404
    assert names(sol.get(f"/api/carteras/{ids['solo']}/contacts")) == ["Rita"]
    assert names(sol.get("/api/contacts")) == ["Rita"]
    assert sol.get(f"/api/contacts/{ids['rita']}").json["name"] == "Rita"
    assert sol.get(f"/api/contacts/{ids['beto']}").status_code == 404
    assert "Rita" in sol.get("/api/contacts/export").get_data(as_text=True)
    conversations = sol.get("/api/conversations").json["items"]
    assert [c["id"] for c in conversations] == [ids["conversation"]]
    assert sol.get(f"/api/conversations/{ids['conversation']}").status_code == 200
    timeline = sol.get(f"/api/contacts/{ids['rita']}/history").json["timeline"]
    assert [e["conversation_id"] for e in timeline if e["type"] == "conversation"] == [
        ids["conversation"]
    ]


def test_an_agent_without_a_team_sees_the_cartera_it_owns_in_the_pages(app, make):
    ids = solo_world(app, make)
    make.user("sol@example.com", "agent", ids["sol"])
    browser = Browser(app.test_client())
    signed_in = browser.submit("/ingresar", data={"email": "sol@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302
    listing = browser.get("/contactos").get_data(as_text=True)
    assert "Rita" in listing and "Beto" not in listing
    detail = browser.get(f"/contactos/{ids['rita']}")
    assert detail.status_code == 200 and "Solo VIP" in detail.get_data(as_text=True)
    assert browser.get(f"/contactos/{ids['beto']}").status_code == 404
    agent_page = browser.get("/agente")
    assert agent_page.status_code == 200 and "Solo VIP" in agent_page.get_data(as_text=True)


def test_an_agent_actor_without_an_agent_sees_nothing(app, make):
    ids = solo_world(app, make)
    nobody = Actor(user_id=None, name="nadie", role="agent", agent_id=None)
    with app.app_context():
        session = db.session()
        # carteras without an owner agent (agent_id NULL) are not its own either
        page = carteras.list_carteras(session, nobody, carteras.CarteraFilters(), 1, 50)
        assert page.total == 0 and page.items == []
        found = contacts.list_contacts(
            session, nobody, contacts.ContactFilters(), region="MX", page=1, per_page=50
        )
        assert found.total == 0
        assert ids["compartida"] and ids["beto"]
