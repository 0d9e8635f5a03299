"""The routing policy on plain data: every branch, no database, no network."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from service.domain.errors import Invalid
from service.domain.routing import (
    CarteraView,
    OwnerView,
    Presence,
    RoutingInput,
    decide,
    validate_hours,
    within_hours,
)

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # Wednesday 10:00 in Mexico City
OWNER = OwnerView(id=7, name="Luis", active=True, rocketchat_user_id="u-luis", max_open_chats=3)
CARTERA = CarteraView(
    id=1,
    name="Premium",
    icon="💎",
    color=None,
    active=True,
    team_id=2,
    team_name="Norte",
    department_id="dep-norte",
    owner=OWNER,
    owner_timeout_seconds=30,
)
ONLINE = Presence(available=True, status="online", status_livechat="available")
OFFLINE = Presence(available=False, status="offline", status_livechat="not-available")
OFFICE = {"timezone": "America/Mexico_City", "weekly": {"wed": [["09:00", "18:00"]]}}


def run(cartera=CARTERA, presence=ONLINE, load=0, now=NOW):
    return decide(RoutingInput(cartera=cartera, now=now, presence=presence, owner_open_chats=load))


def test_available_owner_gets_it_with_its_wait():
    decision = run()
    assert (decision.target, decision.reason, decision.agent_id) == ("agent", "owner_agent", 7)
    assert decision.agent_rocketchat_id == "u-luis" and decision.owner_deadline_seconds == 30
    assert decision.trace["presence"]["available"] is True


@pytest.mark.parametrize(
    ("cartera", "presence", "load", "target", "reason"),
    [
        (None, ONLINE, 0, "queue", "no_cartera"),
        (replace(CARTERA, active=False), ONLINE, 0, "queue", "cartera_inactive"),
        (CARTERA, OFFLINE, 0, "team", "owner_offline_team"),
        (CARTERA, None, 0, "team", "owner_offline_team"),
        (CARTERA, ONLINE, 3, "team", "owner_busy_team"),
        (
            replace(CARTERA, owner=replace(OWNER, active=False)),
            ONLINE,
            0,
            "team",
            "owner_offline_team",
        ),
        (
            replace(CARTERA, owner=replace(OWNER, rocketchat_user_id=None)),
            ONLINE,
            0,
            "team",
            "owner_offline_team",
        ),
        (replace(CARTERA, owner=None), None, 0, "team", "team_only_cartera"),
        (
            replace(CARTERA, team_id=None, department_id=None),
            OFFLINE,
            0,
            "queue",
            "owner_unavailable_queue",
        ),
        (replace(CARTERA, department_id=None), OFFLINE, 0, "queue", "team_without_department"),
        (
            replace(CARTERA, business_hours={"timezone": "UTC", "weekly": {}}),
            ONLINE,
            0,
            "team",
            "outside_hours_team",
        ),
    ],
)
def test_every_branch(cartera, presence, load, target, reason):
    decision = run(cartera, presence, load)
    assert (decision.target, decision.reason) == (target, reason)
    if target == "team":
        assert decision.department_id == "dep-norte" and decision.agent_id is None


def test_trace_records_the_inputs():
    trace = run(presence=OFFLINE).trace
    assert trace["cartera"]["id"] == 1 and trace["owner"]["id"] == 7
    assert trace["presence"]["status"] == "offline" and trace["steps"]


def test_business_hours():
    assert within_hours(OFFICE, NOW)
    assert not within_hours(OFFICE, NOW.replace(hour=2))  # 20:00 the evening before
    assert within_hours(None, NOW)
    assert run(replace(CARTERA, business_hours=OFFICE)).reason == "owner_agent"


@pytest.mark.parametrize(
    "hours",
    [
        {"timezone": "Mars/Base", "weekly": {}},
        {"timezone": "UTC"},
        {"timezone": "UTC", "weekly": {"funday": []}},
        {"timezone": "UTC", "weekly": {"mon": [["18:00", "09:00"]]}},
        {"timezone": "UTC", "weekly": {"mon": [["9", "18"]]}},
    ],
)
def test_bad_business_hours(hours):
    with pytest.raises(Invalid):
        validate_hours(hours)
