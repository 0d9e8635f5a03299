"""The first path a coordinator walks: create a team, an agent, a cartera, a contact."""


def test_coordinator_builds_a_cartera_with_a_contact(coordinator):
    team = coordinator.post("/api/teams", {"name": "Ventas"})
    assert team.status_code == 201, team.json
    agent = coordinator.post("/api/agents", {"name": "Luis", "team_ids": [team.json["id"]]})
    assert agent.status_code == 201, agent.json
    cartera = coordinator.post(
        "/api/carteras",
        {"name": "Premium", "icon": "💎", "team_id": team.json["id"], "agent_id": agent.json["id"]},
    )
    assert cartera.status_code == 201, cartera.json
    contact = coordinator.post(
        "/api/contacts",
        {"name": "Juan", "phones": ["55 1234 5678"], "cartera_id": cartera.json["id"]},
    )
    assert contact.status_code == 201, contact.json
    assert contact.json["phones"] == ["+525512345678"]
    listed = coordinator.get("/api/carteras")
    assert listed.json["items"][0]["contact_count"] == 1
