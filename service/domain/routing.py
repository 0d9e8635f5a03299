"""The routing policy (domain rule 4): who takes a new conversation, and why.

Pure: data in, a RoutingDecision out, no session and no I/O, so every branch is unit-tested.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.errors import Invalid

Target = Literal["agent", "team", "queue"]
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

# Machine-readable reasons, stored on every conversation.
NO_CARTERA: Final = "no_cartera"
CARTERA_INACTIVE: Final = "cartera_inactive"
OWNER_AGENT: Final = "owner_agent"
OWNER_OFFLINE_TEAM: Final = "owner_offline_team"
OWNER_BUSY_TEAM: Final = "owner_busy_team"
OUTSIDE_HOURS_TEAM: Final = "outside_hours_team"
TEAM_ONLY_CARTERA: Final = "team_only_cartera"
OWNER_UNAVAILABLE_QUEUE: Final = "owner_unavailable_queue"
TEAM_WITHOUT_DEPARTMENT: Final = "team_without_department"
OWNER_TIMEOUT_TEAM: Final = "owner_timeout_team"
# Rocket.Chat refused the owner when the room was handed over (offline, inactive, deleted).
OWNER_UNAVAILABLE_TEAM: Final = "owner_unavailable_team"


@dataclass(frozen=True)
class OwnerView:
    """The cartera's agent as routing sees it."""

    id: int
    name: str
    active: bool
    rocketchat_user_id: str | None
    max_open_chats: int | None = None
    # The conversations routed to the agent and still open, read with it (its load).
    open_chats: int = 0


@dataclass(frozen=True)
class CarteraView:
    id: int
    name: str
    icon: str
    color: str | None
    active: bool
    team_id: int | None
    team_name: str | None
    department_id: str | None
    owner: OwnerView | None
    owner_timeout_seconds: int = 0
    business_hours: dict[str, Any] | None = None


@dataclass(frozen=True)
class Presence:
    """What the chat platform says about the owner right now."""

    available: bool
    status: str | None = None
    status_livechat: str | None = None
    source: str = "rocketchat"


@dataclass(frozen=True)
class RoutingInput:
    cartera: CarteraView | None
    now: datetime
    presence: Presence | None = None
    owner_open_chats: int = 0


@dataclass(frozen=True)
class RoutingDecision:
    target: Target
    reason: str
    agent_id: int | None = None
    agent_rocketchat_id: str | None = None
    team_id: int | None = None
    department_id: str | None = None
    owner_deadline_seconds: int = 0
    trace: dict[str, Any] = field(default_factory=dict)


def validate_hours(hours: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"timezone": "America/Mexico_City", "weekly": {"mon": [["09:00", "18:00"]], ...}}``;
    a day that is missing is closed. None means always open.

    :raise Invalid: unknown zone or day, a time not HH:MM, or an empty range.
    """
    if hours is None:
        return None
    zone = hours.get("timezone")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field(
            "business_hours", f"unknown time zone {zone!r}", "hours.zone", zone=zone
        ) from None
    weekly = hours.get("weekly")
    if not isinstance(weekly, dict):
        raise Invalid.field(
            "business_hours", "needs a 'weekly' object of day -> ranges", "hours.weekly"
        )
    for day, ranges in weekly.items():
        if day not in DAYS:
            raise Invalid.field(
                "business_hours",
                f"unknown day {day!r} (use {', '.join(DAYS)})",
                "hours.day",
                day=day,
            )
        for pair in ranges if isinstance(ranges, list) else [None]:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(t, str) and _HHMM.match(t) for t in pair)
                or pair[0] >= pair[1]
            ):
                raise Invalid.field(
                    "business_hours",
                    f"{day}: ranges look like ['09:00', '18:00']",
                    "hours.range",
                    day=day,
                )
    return {"timezone": zone, "weekly": weekly}


def _clock(text: str) -> time:
    return time.max if text == "24:00" else time.fromisoformat(text)


def within_hours(hours: dict[str, Any] | None, now: datetime) -> bool:
    """True when *now* falls in one of the day's ranges, in the schedule's time zone."""
    if not hours:
        return True
    local = now.astimezone(ZoneInfo(hours["timezone"]))
    ranges = hours.get("weekly", {}).get(DAYS[local.weekday()], [])
    moment = local.time()
    return any(_clock(start) <= moment < _clock(end) for start, end in ranges)


def _fallback(cartera: CarteraView, reason: str, trace: dict[str, Any]) -> RoutingDecision:
    if cartera.team_id is not None and cartera.department_id:
        return RoutingDecision(
            "team",
            reason,
            team_id=cartera.team_id,
            department_id=cartera.department_id,
            trace=trace,
        )
    if cartera.team_id is not None:
        trace["team_step"] = "the team has no Rocket.Chat department id"
        return RoutingDecision(
            "queue", TEAM_WITHOUT_DEPARTMENT, team_id=cartera.team_id, trace=trace
        )
    return RoutingDecision("queue", OWNER_UNAVAILABLE_QUEUE, trace=trace)


def decide(given: RoutingInput) -> RoutingDecision:
    """Pick the target of a new conversation (domain rule 4), in this order:

    no cartera or an inactive one -> default queue; the cartera's agent, when active here,
    available in Rocket.Chat, under its chat limit and within business hours -> that agent;
    otherwise the cartera's team (its Rocket.Chat department); otherwise the default queue.
    The trace records every input looked at.
    """
    cartera = given.cartera
    trace: dict[str, Any] = {"at": given.now.isoformat(), "steps": []}
    if cartera is None:
        return RoutingDecision("queue", NO_CARTERA, trace=trace)
    trace["cartera"] = {
        "id": cartera.id,
        "name": cartera.name,
        "active": cartera.active,
        "team_id": cartera.team_id,
        "department_id": cartera.department_id,
    }
    if not cartera.active:
        return RoutingDecision("queue", CARTERA_INACTIVE, trace=trace)
    owner = cartera.owner
    if owner is None:
        trace["steps"].append("team-only cartera: no owner agent")
        return _fallback(cartera, TEAM_ONLY_CARTERA, trace)
    trace["owner"] = asdict(owner)
    open_hours = within_hours(cartera.business_hours, given.now)
    trace["business_hours"] = {"schedule": cartera.business_hours, "open": open_hours}
    if not open_hours:
        trace["steps"].append("outside business hours: owner step skipped")
        return _fallback(cartera, OUTSIDE_HOURS_TEAM, trace)
    if not owner.active or not owner.rocketchat_user_id:
        trace["steps"].append("owner inactive here or not linked to a Rocket.Chat user")
        return _fallback(cartera, OWNER_OFFLINE_TEAM, trace)
    presence = given.presence
    trace["presence"] = asdict(presence) if presence else None
    if presence is None or not presence.available:
        trace["steps"].append("owner not available in Rocket.Chat")
        return _fallback(cartera, OWNER_OFFLINE_TEAM, trace)
    trace["owner_open_chats"] = given.owner_open_chats
    if owner.max_open_chats is not None and given.owner_open_chats >= owner.max_open_chats:
        trace["steps"].append("owner at its chat limit")
        return _fallback(cartera, OWNER_BUSY_TEAM, trace)
    trace["steps"].append("owner available")
    return RoutingDecision(
        "agent",
        OWNER_AGENT,
        agent_id=owner.id,
        agent_rocketchat_id=owner.rocketchat_user_id,
        team_id=cartera.team_id,
        department_id=cartera.department_id,
        owner_deadline_seconds=cartera.owner_timeout_seconds,
        trace=trace,
    )
