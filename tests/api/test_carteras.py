"""Carteras through the API: validation, filters, state changes, deletion rules."""

import pytest


@pytest.fixture
def org(make):
    team = make.team("Norte")
    return {"team": team, "agent": make.agent("Luis", [team]), "other": make.agent("Otro")}


def test_create_and_read_a_cartera(coordinator, org, make):
    cdmx = make.region("CDMX")
    response = coordinator.post(
        "/api/carteras",
        {
            "name": "Premium",
            "icon": "💎",
            "color": "#1e88e5",
            "region": "CDMX",
            "description": "Clientes de alto valor",
            "team_id": org["team"],
            "agent_id": org["agent"],
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["color"] == "#1E88E5"
    assert body["region"] == "CDMX" and body["region_id"] == cdmx
    assert body["team"] == {"id": org["team"], "name": "Norte"}
    assert body["agent"] == {"id": org["agent"], "name": "Luis"}
    assert body["active"] is True and body["contact_count"] == 0
    assert coordinator.get(f"/api/carteras/{body['id']}").json["name"] == "Premium"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"icon": "💎", "team_id": None}, "name"),
        ({"name": "X", "team_id": None}, "icon"),
        ({"name": "X", "icon": "💎"}, "team_id"),
        ({"name": "X", "icon": "💎", "team_id": "TEAM", "color": "#fff"}, "color"),
        ({"name": "X", "icon": "💎", "team_id": "TEAM", "color": "azul"}, "color"),
        ({"name": "X", "icon": "💎", "team_id": 999}, "team_id"),
        ({"name": "X", "icon": "💎", "agent_id": 999}, "agent_id"),
        ({"name": "X", "icon": "💎", "team_id": "TEAM", "agent_id": "OTHER"}, "agent_id"),
        ({"name": "X" * 121, "icon": "💎", "team_id": "TEAM"}, "name"),
        ({"name": "   ", "icon": "💎", "team_id": "TEAM"}, "name"),
        ({"name": "X", "icon": "💎", "team_id": "TEAM", "owner": 1}, "owner"),
    ],
)
def test_invalid_carteras_are_refused_naming_the_field(coordinator, org, payload, field):
    names = {"TEAM": org["team"], "OTHER": org["other"]}
    payload = {k: names.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    response = coordinator.post("/api/carteras", payload)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["details"]["fields"]
    assert coordinator.get("/api/carteras").json["total"] == 0


def test_names_are_unique_ignoring_case(coordinator, make, org):
    make.cartera("Premium", org["team"])
    response = coordinator.post(
        "/api/carteras", {"name": "PREMIUM", "icon": "x", "team_id": org["team"]}
    )
    assert response.status_code == 409


def test_agent_only_cartera_is_allowed(coordinator, org):
    response = coordinator.post(
        "/api/carteras", {"name": "Solo", "icon": "🙋", "agent_id": org["other"]}
    )
    assert response.status_code == 201 and response.json["team_id"] is None


def test_list_filters_and_counts(coordinator, make, org):
    premium = make.cartera("Premium", org["team"], org["agent"], region="Norte")
    shared = make.cartera("Compartida", org["team"])
    solo = make.cartera("Solo", None, org["other"], active=False)
    make.contact("Ana", premium)
    make.contact("Beto", premium)

    def ids(query=""):
        return [c["id"] for c in coordinator.get(f"/api/carteras{query}").json["items"]]

    assert ids() == [shared, premium, solo]  # by name
    assert ids("?q=norte") == [premium]
    assert ids("?active=false") == [solo]
    assert ids(f"?team_id={org['team']}") == [shared, premium]
    assert ids(f"?agent_id={org['agent']}") == [premium]
    counts = {c["id"]: c["contact_count"] for c in coordinator.get("/api/carteras").json["items"]}
    assert counts == {premium: 2, shared: 0, solo: 0}


def test_pagination_envelope(coordinator, make, org):
    for n in range(5):
        make.cartera(f"C{n}", org["team"])
    page = coordinator.get("/api/carteras?page=2&per_page=2").json
    assert page["total"] == 5 and page["page"] == 2 and page["per_page"] == 2
    assert [c["name"] for c in page["items"]] == ["C2", "C3"]
    assert coordinator.get("/api/carteras?per_page=201").status_code == 422
    assert coordinator.get("/api/carteras?page=0").status_code == 422


def test_patch_changes_only_what_is_sent(coordinator, make, org):
    cartera = make.cartera("Premium", org["team"], org["agent"], color="#000000")
    response = coordinator.patch(f"/api/carteras/{cartera}", {"icon": "👑", "agent_id": None})
    assert response.status_code == 200
    assert response.json["icon"] == "👑" and response.json["agent_id"] is None
    assert response.json["color"] == "#000000" and response.json["team_id"] == org["team"]
    no_owner = coordinator.patch(f"/api/carteras/{cartera}", {"team_id": None})
    assert no_owner.status_code == 422


def test_activate_and_deactivate(coordinator, make, org):
    cartera = make.cartera("Premium", org["team"])
    off = coordinator.post(f"/api/carteras/{cartera}/deactivate")
    assert off.status_code == 200 and off.json["active"] is False
    assert coordinator.post(f"/api/carteras/{cartera}/deactivate").status_code == 200
    on = coordinator.post(f"/api/carteras/{cartera}/activate")
    assert on.json["active"] is True
    events = coordinator.get(f"/api/audit?resource_type=cartera&resource_id={cartera}").json
    assert [e["event"] for e in events["items"]] == ["activated", "deactivated", "created"]


def test_delete_with_contacts_needs_force_and_unassigns_them(coordinator, make, org):
    cartera = make.cartera("Premium", org["team"])
    ana = make.contact("Ana", cartera)
    refused = coordinator.delete(f"/api/carteras/{cartera}")
    assert refused.status_code == 409
    assert "Deactivate" in refused.json["error"]["message"]
    assert coordinator.get(f"/api/carteras/{cartera}").status_code == 200

    assert coordinator.delete(f"/api/carteras/{cartera}?force=true").status_code == 204
    assert coordinator.get(f"/api/carteras/{cartera}").status_code == 404
    assert coordinator.get(f"/api/contacts/{ana}").json["cartera_id"] is None
    removed = coordinator.get("/api/audit?event=contact_removed").json["items"]
    assert len(removed) == 1 and removed[0]["related_name"] == "Ana"
    assert coordinator.get("/api/audit?event=deleted&resource_type=cartera").json["total"] == 1


def test_empty_cartera_deletes_without_force(coordinator, make, org):
    cartera = make.cartera("Vacía", org["team"])
    assert coordinator.delete(f"/api/carteras/{cartera}").status_code == 204


def test_unknown_cartera_is_404(coordinator):
    for call in (
        lambda: coordinator.get("/api/carteras/999"),
        lambda: coordinator.patch("/api/carteras/999", {"icon": "x"}),
        lambda: coordinator.delete("/api/carteras/999"),
        lambda: coordinator.post("/api/carteras/999/activate"),
        lambda: coordinator.get("/api/carteras/999/contacts"),
        lambda: coordinator.post("/api/carteras/999/contacts", {"contact_ids": [1]}),
    ):
        response = call()
        assert response.status_code == 404
        assert response.json["error"]["code"] == "not_found"
