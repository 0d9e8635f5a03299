"""The routing policy to the letter: business hours in the cartera's zone and at the edges
of each range, every decision's fields and the trace each branch leaves (what the API and
pages show as the reason)."""

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest

from service.domain.errors import Invalid
from service.domain.routing import (
    RoutingInput,
    decide,
    validate_hours,
    within_hours,
)
from tests.unit.test_routing_policy import CARTERA, OFFLINE, ONLINE, OWNER

MX = "America/Mexico_City"  # UTC-6 all year (no summer time since 2022)
OFFICE = {"timezone": MX, "weekly": {"wed": [["09:00", "18:00"]]}}


def mx(hour, minute=0, second=0, day=25):
    """A moment given as Mexico City wall-clock time on Wednesday 2026-11-25 (by default)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC) + timedelta(hours=6)


def test_hours_are_read_in_the_schedules_zone_not_utc():
    # 14:00 in Mexico City is 20:00 UTC: open there, closed if read in UTC
    assert within_hours(OFFICE, mx(14))
    # 08:00 in Mexico City is 14:00 UTC: closed there, open if read in UTC
    assert not within_hours(OFFICE, mx(8))
    # the weekday is the local one: Tuesday 23:30 in Mexico City is Wednesday in UTC
    late = {"timezone": MX, "weekly": {"tue": [["23:00", "24:00"]]}}
    assert within_hours(late, mx(23, 30, day=24))
    assert not within_hours(late, mx(0, 30, day=25))
    # a schedule in UTC reads the moment in UTC: 03:00 in Mexico City is 09:00 UTC
    assert within_hours({"timezone": "UTC", "weekly": {"wed": [["09:00", "18:00"]]}}, mx(3))


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (mx(9), True),  # a range includes its start
        (mx(8, 59, 59), False),
        (mx(17, 59, 59), True),
        (mx(18), False),  # and excludes its end
        (mx(13, 30), False),  # between two ranges
        (mx(15), True),
        (mx(0), False),
    ],
)
def test_both_edges_of_a_range(moment, open_):
    split = {"timezone": MX, "weekly": {"wed": [["09:00", "13:00"], ["15:00", "18:00"]]}}
    assert within_hours(split, moment) is open_


def test_a_day_to_midnight_and_from_midnight():
    whole = {"timezone": MX, "weekly": {"wed": [["00:00", "24:00"]]}}
    assert within_hours(whole, mx(0)) and within_hours(whole, mx(23, 59, 59))
    assert not within_hours(whole, mx(0, day=26))  # Thursday: no ranges, closed
    assert within_hours(None, mx(3)) and within_hours({}, mx(3))


def test_valid_hours_are_kept_as_given_and_extra_keys_dropped():
    hours = {"timezone": MX, "weekly": {"mon": [["09:00", "24:00"]], "sun": []}, "x": 1}
    assert validate_hours(hours) == {"timezone": MX, "weekly": hours["weekly"]}
    assert validate_hours(None) is None


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"timezone": "Mars/Base", "weekly": {}}, "unknown time zone 'Mars/Base'"),
        ({"weekly": {}}, "unknown time zone None"),
        ({"timezone": MX}, "needs a 'weekly' object of day -> ranges"),
        ({"timezone": MX, "weekly": []}, "needs a 'weekly' object of day -> ranges"),
        (
            {"timezone": MX, "weekly": {"funday": []}},
            "unknown day 'funday' (use mon, tue, wed, thu, fri, sat, sun)",
        ),
        ({"timezone": MX, "weekly": {"mon": "09:00-18:00"}}, "mon: ranges look like"),
        ({"timezone": MX, "weekly": {"mon": ["09:00"]}}, "mon: ranges look like"),
        ({"timezone": MX, "weekly": {"mon": ""}}, "mon: ranges look like"),
        ({"timezone": MX, "weekly": {"mon": {}}}, "mon: ranges look like"),
        ({"timezone": MX, "weekly": {"mon": [["09:00"]]}}, "mon: ranges look like"),
        ({"timezone": MX, "weekly": {"mon": [["09:00", "12:00", "18:00"]]}}, "mon: ranges"),
        ({"timezone": MX, "weekly": {"tue": [["18:00", "09:00"]]}}, "tue: ranges look like"),
        ({"timezone": MX, "weekly": {"tue": [["09:00", "09:00"]]}}, "tue: ranges look like"),
        ({"timezone": MX, "weekly": {"tue": [["9", "18"]]}}, "tue: ranges look like"),
        ({"timezone": MX, "weekly": {"tue": [[9, 18]]}}, "tue: ranges look like"),
        ({"timezone": MX, "weekly": {"tue": [["24:00", "24:00"]]}}, "tue: ranges look like"),
        ({"timezone": MX, "weekly": {"tue": [["09:00", "24:01"]]}}, "tue: ranges look like"),
    ],
)
def test_bad_hours_name_the_field_and_the_fault(hours, message):
    with pytest.raises(Invalid) as caught:
        validate_hours(hours)
    (text,) = caught.value.details["fields"]["business_hours"]
    assert text.startswith(message)
    assert caught.value.message == f"business_hours: {text}"


# ---- every decision, field by field, with the steps it records --------------------------------

NOW = mx(10)
TEAM = {"agent_id": None, "agent_rocketchat_id": None, "team_id": 2, "department_id": "dep-norte"}
QUEUE = {"agent_id": None, "agent_rocketchat_id": None, "team_id": None, "department_id": None}
SKIP = "outside business hours: owner step skipped"
UNLINKED = "owner inactive here or not linked to a Rocket.Chat user"


@pytest.mark.parametrize(
    ("cartera", "presence", "load", "expected", "steps"),
    [
        (None, ONLINE, 0, {"target": "queue", "reason": "no_cartera", **QUEUE}, None),
        (
            replace(CARTERA, active=False),
            ONLINE,
            0,
            {"target": "queue", "reason": "cartera_inactive", **QUEUE},
            [],
        ),
        (
            replace(CARTERA, owner=None),
            ONLINE,
            0,
            {"target": "team", "reason": "team_only_cartera", **TEAM},
            ["team-only cartera: no owner agent"],
        ),
        (
            replace(CARTERA, business_hours={"timezone": MX, "weekly": {}}),
            ONLINE,
            0,
            {"target": "team", "reason": "outside_hours_team", **TEAM},
            [SKIP],
        ),
        (
            replace(CARTERA, owner=replace(OWNER, active=False)),
            ONLINE,
            0,
            {"target": "team", "reason": "owner_offline_team", **TEAM},
            [UNLINKED],
        ),
        (
            replace(CARTERA, owner=replace(OWNER, rocketchat_user_id="")),
            ONLINE,
            0,
            {"target": "team", "reason": "owner_offline_team", **TEAM},
            [UNLINKED],
        ),
        (
            CARTERA,
            OFFLINE,
            0,
            {"target": "team", "reason": "owner_offline_team", **TEAM},
            ["owner not available in Rocket.Chat"],
        ),
        (
            CARTERA,
            None,
            0,
            {"target": "team", "reason": "owner_offline_team", **TEAM},
            ["owner not available in Rocket.Chat"],
        ),
        (
            CARTERA,
            ONLINE,
            3,
            {"target": "team", "reason": "owner_busy_team", **TEAM},
            ["owner at its chat limit"],
        ),
        (
            replace(CARTERA, owner=replace(OWNER, max_open_chats=None)),
            ONLINE,
            50,
            {
                "target": "agent",
                "reason": "owner_agent",
                "agent_id": 7,
                "agent_rocketchat_id": "u-luis",
                "team_id": 2,
                "department_id": "dep-norte",
            },
            ["owner available"],
        ),
        (
            replace(CARTERA, department_id=None),
            OFFLINE,
            0,
            {"target": "queue", "reason": "team_without_department", **QUEUE, "team_id": 2},
            ["owner not available in Rocket.Chat"],
        ),
        (
            replace(CARTERA, team_id=None, department_id=None),
            OFFLINE,
            0,
            {"target": "queue", "reason": "owner_unavailable_queue", **QUEUE},
            ["owner not available in Rocket.Chat"],
        ),
    ],
)
def test_each_branch_decides_and_explains(cartera, presence, load, expected, steps):
    decision = decide(
        RoutingInput(cartera=cartera, now=NOW, presence=presence, owner_open_chats=load)
    )
    fields = asdict(decision)
    trace = fields.pop("trace")
    deadline = fields.pop("owner_deadline_seconds")
    assert fields == expected
    assert deadline == (30 if decision.target == "agent" else 0)
    assert trace["at"] == NOW.isoformat()
    if steps is None:
        assert trace == {"at": NOW.isoformat(), "steps": []}
        return
    assert trace["steps"] == steps
    assert trace["cartera"] == {
        "id": cartera.id,
        "name": cartera.name,
        "active": cartera.active,
        "team_id": cartera.team_id,
        "department_id": cartera.department_id,
    }
    if expected["reason"] == "team_without_department":
        assert trace["team_step"] == "the team has no Rocket.Chat department id"
    else:
        assert "team_step" not in trace


def test_the_owner_path_records_every_input_it_looked_at():
    cartera = replace(CARTERA, business_hours=OFFICE)
    decision = decide(RoutingInput(cartera=cartera, now=NOW, presence=ONLINE, owner_open_chats=2))
    assert decision.trace == {
        "at": NOW.isoformat(),
        "steps": ["owner available"],
        "cartera": {
            "id": 1,
            "name": "Premium",
            "active": True,
            "team_id": 2,
            "department_id": "dep-norte",
        },
        "owner": asdict(OWNER),
        "business_hours": {"schedule": OFFICE, "open": True},
        "presence": asdict(ONLINE),
        "owner_open_chats": 2,
    }
    closed = decide(RoutingInput(cartera=cartera, now=mx(20), presence=ONLINE))
    assert closed.trace["business_hours"] == {"schedule": OFFICE, "open": False}
    assert "presence" not in closed.trace and "owner_open_chats" not in closed.trace
    offline = decide(RoutingInput(cartera=CARTERA, now=NOW, presence=None))
    assert offline.trace["presence"] is None and "owner_open_chats" not in offline.trace


@pytest.mark.parametrize(
    ("hours", "rule", "params"),
    [
        ({"timezone": "Marte/Olimpo", "weekly": {}}, "hours.zone", {"zone": "Marte/Olimpo"}),
        ({"timezone": "", "weekly": {}}, "hours.zone", {"zone": ""}),
        ({"weekly": {}}, "hours.zone", {"zone": None}),
        ({"timezone": MX}, "hours.weekly", {}),
        ({"timezone": MX, "weekly": [["09:00", "18:00"]]}, "hours.weekly", {}),
        ({"timezone": MX, "weekly": {"lunes": []}}, "hours.day", {"day": "lunes"}),
        ({"timezone": MX, "weekly": {"mon": [], "Sun": []}}, "hours.day", {"day": "Sun"}),
        ({"timezone": MX, "weekly": {"mon": "09:00-18:00"}}, "hours.range", {"day": "mon"}),
        ({"timezone": MX, "weekly": {"sat": [["09:00"]]}}, "hours.range", {"day": "sat"}),
        ({"timezone": MX, "weekly": {"sun": [["18:00", "09:00"]]}}, "hours.range", {"day": "sun"}),
    ],
)
def test_bad_hours_name_the_rule_and_its_values(hours, rule, params):
    """The pages say each fault in Spanish from the rule's name and values, not the English."""
    with pytest.raises(Invalid) as caught:
        validate_hours(hours)
    assert (caught.value.code, caught.value.rule, caught.value.params) == (
        "validation_error",
        rule,
        params,
    )
    assert caught.value.field_rules == {"business_hours": (rule, params)}
