"""Teams and agents through the API."""


def test_team_crud_and_case_insensitive_names(coordinator):
    created = coordinator.post(
        "/api/teams", {"name": "  Ventas   Norte ", "rocketchat_department_id": "d1"}
    )
    assert created.status_code == 201
    assert created.json["name"] == "Ventas Norte"
    team_id = created.json["id"]

    clash = coordinator.post("/api/teams", {"name": "ventas norte"})
    assert clash.status_code == 409
    assert clash.json["error"]["details"]["existing_id"] == team_id

    renamed = coordinator.patch(f"/api/teams/{team_id}", {"name": "Ventas"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Ventas"
    assert coordinator.get(f"/api/teams/{team_id}").json["rocketchat_department_id"] == "d1"

    listed = coordinator.get("/api/teams?q=vent")
    assert listed.json["total"] == 1 and listed.json["items"][0]["id"] == team_id

    assert coordinator.delete(f"/api/teams/{team_id}").status_code == 204
    assert coordinator.get(f"/api/teams/{team_id}").status_code == 404


def test_department_id_is_unique(coordinator, make):
    make.team("Norte", rocketchat_department_id="dep-1")
    response = coordinator.post("/api/teams", {"name": "Sur", "rocketchat_department_id": "dep-1"})
    assert response.status_code == 409
    assert response.json["error"]["details"]["field"] == "rocketchat_department_id"


def test_renaming_a_team_onto_another_name_conflicts(coordinator, make):
    make.team("Norte")
    sur = make.team("Sur")
    assert coordinator.patch(f"/api/teams/{sur}", {"name": "NORTE"}).status_code == 409


def test_team_with_carteras_cannot_be_deleted(coordinator, make):
    team = make.team()
    cartera = make.cartera(team_id=team)
    response = coordinator.delete(f"/api/teams/{team}")
    assert response.status_code == 409
    assert response.json["error"]["details"]["cartera_ids"] == [cartera]


def test_agent_crud_with_teams(coordinator, make):
    norte, sur = make.team("Norte"), make.team("Sur")
    created = coordinator.post(
        "/api/agents",
        {
            "name": "Luis",
            "email": "Luis@Example.com",
            "rocketchat_user_id": "u1",
            "rocketchat_username": "luis",
            "team_ids": [norte, sur],
        },
    )
    assert created.status_code == 201, created.json
    agent = created.json
    assert agent["email"] == "luis@example.com"
    assert agent["team_ids"] == [norte, sur] and agent["active"] is True

    assert coordinator.get(f"/api/agents?team_id={sur}").json["total"] == 1
    assert coordinator.get("/api/agents?q=LUI").json["total"] == 1
    assert coordinator.get("/api/agents?active=false").json["total"] == 0

    changed = coordinator.patch(f"/api/agents/{agent['id']}", {"team_ids": [sur], "active": False})
    assert changed.json["team_ids"] == [sur] and changed.json["active"] is False
    assert coordinator.get(f"/api/teams/{norte}").json["agent_ids"] == []

    assert coordinator.delete(f"/api/agents/{agent['id']}").status_code == 204
    assert coordinator.get(f"/api/agents/{agent['id']}").status_code == 404


def test_agent_validation(coordinator, make):
    make.agent("Luis", email="luis@example.com", rocketchat_username="luis")
    bad_email = coordinator.post("/api/agents", {"name": "X", "email": "not-an-email"})
    assert bad_email.status_code == 422
    assert "email" in bad_email.json["error"]["details"]["fields"]
    unknown_team = coordinator.post("/api/agents", {"name": "X", "team_ids": [999]})
    assert unknown_team.status_code == 422
    assert "team_ids" in unknown_team.json["error"]["details"]["fields"]
    taken = coordinator.post("/api/agents", {"name": "X", "email": "LUIS@example.com"})
    assert taken.status_code == 409
    taken = coordinator.post("/api/agents", {"name": "X", "rocketchat_username": "luis"})
    assert taken.status_code == 409
    missing_name = coordinator.post("/api/agents", {"email": "x@example.com"})
    assert missing_name.status_code == 422
    assert "name" in missing_name.json["error"]["details"]["fields"]


def test_agent_owning_carteras_cannot_be_deleted_or_leave_their_team(coordinator, make):
    team, other = make.team("Norte"), make.team("Sur")
    agent = make.agent(team_ids=[team])
    cartera = make.cartera(team_id=team, agent_id=agent)
    deleted = coordinator.delete(f"/api/agents/{agent}")
    assert deleted.status_code == 409
    assert deleted.json["error"]["details"]["cartera_ids"] == [cartera]
    moved = coordinator.patch(f"/api/agents/{agent}", {"team_ids": [other]})
    assert moved.status_code == 422
    assert coordinator.get(f"/api/agents/{agent}").json["team_ids"] == [team]


def test_agent_with_a_login_is_deactivated_not_deleted(coordinator, make):
    agent = make.agent()
    make.token("agent", "luis-login", agent)
    response = coordinator.delete(f"/api/agents/{agent}")
    assert response.status_code == 409
    assert "inactive" in response.json["error"]["message"]
