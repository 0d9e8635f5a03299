"""Access granted per user (issue 12, DESIGN.md "Access"), tried as a new user would: an
agent sees its own, its team's shared and its granted carteras and the customers without a
cartera, never a colleague's own; a supervisor limited to the North cannot touch the South;
a user with all carteras sees everything; grants apply at once and are audited."""

from datetime import UTC, datetime

from sqlalchemy import select

from service.domain.actor import system_actor
from service.domain.tokens import issue_token
from service.domain.users import set_access
from service.extensions import db
from service.models import AuditEvent, Contact, Conversation, User
from tests.conftest import Api

ADMIN = system_actor("tests")


def user_with_token(app, client, role, agent_id=None, **access):
    """An API user (a Api client and its user id), given *access* when any."""
    with app.app_context():
        issued = issue_token(db.session(), ADMIN, name=f"{role}-x", role=role, agent_id=agent_id)
        user_id = issued.token.user_id
        if access:
            set_access(db.session(), ADMIN, user_id, **access)
        db.session.commit()
    return Api(client, issued.secret), user_id


def grant(app, user_id, **access):
    with app.app_context():
        set_access(db.session(), ADMIN, user_id, **access)
        db.session.commit()


def names(api, path):
    return [item["name"] for item in api.get(path).json["items"]]


def test_an_agent_sees_own_shared_granted_and_unassigned_never_a_colleagues_own(app, client, make):
    ids = make.org_chart()
    marta, marta_user = user_with_token(app, client, "agent", ids["marta"])
    assert names(marta, "/api/carteras") == ["Compartida"]
    assert names(marta, "/api/contacts") == ["Beto", "Dani", "Eva"]
    assert marta.get(f"/api/contacts/{ids['ana']}").status_code == 404  # Luis's own
    assert marta.get("/api/contacts?q=Ana").json["total"] == 0
    assert "Ana" not in marta.get("/api/contacts/export").get_data(as_text=True)

    # granted Luis's Premium and Pablo's Sur VIP: at once, with the same token
    grant(app, marta_user, cartera_ids=[ids["premium"], ids["sur_vip"]])
    assert names(marta, "/api/carteras") == ["Compartida", "Premium", "Sur VIP"]
    assert names(marta, "/api/contacts") == ["Ana", "Beto", "Caro", "Dani", "Eva"]
    assert marta.patch(f"/api/contacts/{ids['ana']}", {"name": "X"}).status_code == 403

    # revoked: gone at once
    grant(app, marta_user, cartera_ids=[])
    assert marta.get(f"/api/carteras/{ids['sur_vip']}").status_code == 404
    assert names(marta, "/api/contacts") == ["Beto", "Dani", "Eva"]


def test_a_supervisor_limited_to_the_north_cannot_touch_the_south(app, client, make):
    ids = make.org_chart()
    north, _ = user_with_token(
        app,
        client,
        "coordinator",
        all_carteras=False,
        cartera_ids=[ids["premium"], ids["compartida"]],
    )
    assert names(north, "/api/carteras") == ["Compartida", "Premium"]
    assert names(north, "/api/contacts") == ["Ana", "Beto", "Dani", "Eva"]
    for response in (
        north.patch(f"/api/carteras/{ids['sur_vip']}", {"name": "Mía"}),
        north.post(f"/api/carteras/{ids['sur_vip']}/deactivate"),
        north.delete(f"/api/contacts/{ids['caro']}"),
        north.patch(
            f"/api/contacts/{ids['caro']}",
            {"cartera_id": ids["premium"]},
            query_string={"move": "true"},
        ),
    ):
        assert response.status_code == 404, response.json
    # moving Caro from the South into a northern cartera: Caro is unknown to it
    moved = north.post(
        f"/api/carteras/{ids['premium']}/contacts", {"contact_ids": [ids["caro"]], "move": True}
    )
    assert moved.status_code == 422 and moved.json["error"]["details"]["missing_contact_ids"] == [
        ids["caro"]
    ]
    # nor through a file: a row naming the South, a row matching Caro's email
    csv = (
        "name,phones,emails,external_ref,company,cartera\n"
        "Zoe,,,,,Sur VIP\nCaro 2,,caro@example.com,,,Premium\nYago,,,,,Premium\n"
    )
    report = north.post(
        "/api/contacts/import", data=csv.encode(), content_type="text/csv", json=None
    ).json
    assert (report["created"], report["rejected"]) == (1, 2), report
    with app.app_context():
        caro = db.session.get(Contact, ids["caro"])
        assert (caro.name, caro.cartera_id) == ("Caro", ids["sur_vip"])
    # creating carteras, teams and agents needs all carteras
    assert (
        north.post("/api/carteras", {"name": "N", "icon": "x", "team_id": ids["norte"]}).status_code
        == 403
    )
    assert north.post("/api/teams", {"name": "Oeste"}).status_code == 403
    # its audit: the northern carteras' events only
    events = north.get("/api/audit?per_page=200").json["items"]
    assert events and all(e["resource_name"] != "Sur VIP" for e in events)
    assert all(e["resource_type"] in ("cartera", "contact") for e in events)
    assert "Caro" not in north.get("/api/contacts/export").get_data(as_text=True)


def test_all_carteras_sees_everything_and_an_agent_with_it_still_changes_nothing(app, client, make):
    ids = make.org_chart()
    billing, _ = user_with_token(app, client, "agent", ids["pablo"], all_carteras=True)
    assert names(billing, "/api/carteras") == ["Compartida", "Premium", "Sur VIP"]
    assert len(names(billing, "/api/contacts")) == 5
    assert billing.patch(f"/api/carteras/{ids['premium']}", {"icon": "x"}).status_code == 403
    everything, _ = user_with_token(app, client, "coordinator")  # blank profile = all
    assert len(names(everything, "/api/contacts")) == 5
    assert everything.post("/api/teams", {"name": "Oeste"}).status_code == 201


def test_an_agent_sees_the_contact_of_a_conversation_it_serves_while_it_is_open(app, client, make):
    ids = make.org_chart()
    marta, _ = user_with_token(app, client, "agent", ids["marta"])
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with app.app_context():
        row = Conversation(
            contact_id=ids["ana"],
            channel="whatsapp",
            provider="meta",
            thread_key="t1",
            status="open",
            cartera_id=ids["premium"],
            cartera_name="Premium",
            team_id=ids["norte"],
            agent_id=ids["marta"],  # Luis was away: handed to Marta
            agent_name="Marta",
            routed_to="agent",
            reason="owner_unavailable_team",
            trace={},
            opened_at=now,
            last_message_at=now,
        )
        db.session.add(row)
        db.session.commit()
        conversation_id = row.id
    assert marta.get(f"/api/contacts/{ids['ana']}").status_code == 200
    assert marta.get(f"/api/conversations/{conversation_id}").status_code == 200
    with app.app_context():
        db.session.get(Conversation, conversation_id).status = "closed"
        db.session.commit()
    assert marta.get(f"/api/contacts/{ids['ana']}").status_code == 404
    assert marta.get(f"/api/conversations/{conversation_id}").status_code == 404


def test_each_grant_and_revocation_is_audited_on_the_user_with_ids_and_names(app, client, make):
    ids = make.org_chart()
    _, user_id = user_with_token(app, client, "agent", ids["marta"])
    grant(app, user_id, cartera_ids=[ids["premium"], ids["sur_vip"]])
    grant(app, user_id, cartera_ids=[ids["sur_vip"]])
    grant(app, user_id, cartera_ids=[ids["sur_vip"]])  # no change, no event
    with app.app_context():
        events = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.resource_type == "user", AuditEvent.resource_id == user_id)
                .where(AuditEvent.event == "updated")
                .order_by(AuditEvent.id)
            )
        )
        assert db.session.get(User, user_id).all_carteras is False
    premium = {"id": ids["premium"], "name": "Premium"}
    sur_vip = {"id": ids["sur_vip"], "name": "Sur VIP"}
    assert [(e.before, e.after, e.details) for e in events] == [
        (
            {"all_carteras": False, "carteras": []},
            {"all_carteras": False, "carteras": [premium, sur_vip]},
            {"granted": sorted([ids["premium"], ids["sur_vip"]]), "revoked": []},
        ),
        (
            {"all_carteras": False, "carteras": [premium, sur_vip]},
            {"all_carteras": False, "carteras": [sur_vip]},
            {"granted": [], "revoked": [ids["premium"]]},
        ),
    ]
