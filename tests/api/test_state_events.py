"""Every way of switching something on or off writes its own audit event
(``activated``/``deactivated``), never only a generic ``updated``."""

import pytest


def events_of(api, resource_type, resource_id):
    items = api.get(f"/api/audit?resource_type={resource_type}&resource_id={resource_id}").json
    return [(e["event"], e["before"], e["after"]) for e in items["items"]]


OFF = ("deactivated", {"active": True}, {"active": False})
ON = ("activated", {"active": False}, {"active": True})


@pytest.mark.parametrize("how", ["endpoint", "patch"])
def test_each_api_way_of_switching_a_cartera_writes_its_event(coordinator, make, how):
    cartera = make.cartera(team_id=make.team())

    def switch(active):
        if how == "patch":
            return coordinator.patch(f"/api/carteras/{cartera}", {"active": active})
        return coordinator.post(f"/api/carteras/{cartera}/{'activate' if active else 'deactivate'}")

    assert switch(False).json["active"] is False
    assert events_of(coordinator, "cartera", cartera)[0] == OFF
    assert switch(True).json["active"] is True
    assert events_of(coordinator, "cartera", cartera)[0] == ON
    # the same state again changes nothing and records nothing
    switch(True)
    assert [e[0] for e in events_of(coordinator, "cartera", cartera)] == [
        "activated",
        "deactivated",
        "created",
    ]


def test_a_patch_with_active_and_other_fields_writes_both_events(coordinator, make):
    cartera = make.cartera(team_id=make.team(), region="Norte")
    sur = make.region("Sur")
    coordinator.patch(f"/api/carteras/{cartera}", {"active": False, "region": "Sur"})
    deactivated, updated, _created = events_of(coordinator, "cartera", cartera)
    assert deactivated == OFF
    norte = make.region("Norte")
    assert updated == (
        "updated",
        {"region_id": norte, "region": "Norte"},
        {"region_id": sur, "region": "Sur"},
    )


def test_deactivating_an_agent_through_patch_is_a_deactivated_event(coordinator, make):
    agent = make.agent("Luis", [make.team()])
    response = coordinator.patch(f"/api/agents/{agent}", {"active": False, "max_open_chats": 4})
    assert response.status_code == 200 and response.json["active"] is False
    deactivated, updated, _created = events_of(coordinator, "agent", agent)
    assert deactivated == OFF
    assert updated == ("updated", {"max_open_chats": None}, {"max_open_chats": 4})
    coordinator.patch(f"/api/agents/{agent}", {"active": True})
    assert events_of(coordinator, "agent", agent)[0] == ON
    coordinator.patch(f"/api/agents/{agent}", {"active": True})  # again: nothing
    assert len(events_of(coordinator, "agent", agent)) == 4


def test_a_handover_that_deactivates_the_agent_writes_deactivated_too(coordinator, make):
    team = make.team()
    luis, marta = make.agent("Luis", [team]), make.agent("Marta", [team])
    make.cartera(team_id=team, agent_id=luis)
    done = coordinator.post(
        f"/api/agents/{luis}/handover",
        {"to_agent_id": marta, "deactivate_agent": True, "open_conversations": "leave"},
    )
    assert done.status_code == 200 and done.json["applied"] is True
    assert [e[0] for e in events_of(coordinator, "agent", luis)][:2] == ["handover", "deactivated"]
    assert events_of(coordinator, "agent", luis)[1] == OFF


def test_revoking_a_token_and_switching_a_user_are_recorded_once(app, admin, make):
    make.user("rosa@example.com", "coordinator")
    runner = app.test_cli_runner()
    for _ in range(2):  # the second time changes nothing and records nothing
        assert runner.invoke(args=["users", "deactivate", "rosa@example.com"]).exit_code == 0
    assert runner.invoke(args=["users", "activate", "rosa@example.com"]).exit_code == 0
    (user,) = admin.get("/api/audit?resource_type=user&event=created").json["items"]
    assert [e[:2] for e in events_of(admin, "user", user["resource_id"])] == [
        ("activated", {"active": False}),
        ("deactivated", {"active": True}),
        ("created", None),
    ]
    make.token("coordinator", "Carla")
    (token,) = admin.get("/api/audit?resource_type=token&q=carla").json["items"]
    for _ in range(2):
        assert runner.invoke(args=["tokens", "revoke", str(token["resource_id"])]).exit_code == 0
    assert [e[0] for e in events_of(admin, "token", token["resource_id"])] == [
        "deleted",
        "created",
    ]
