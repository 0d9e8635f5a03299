"""How a routed conversation reaches its agent or team in Rocket.Chat: the badge, the tags,
and which call puts the room where the routing decision says, with the comment agents read.

Pure: the conversation's snapshot and the room as Rocket.Chat has it in, a Handoff out.
Rocket.Chat's rules it follows (apps/meteor/app/livechat/server/lib/Helper.ts): a room
inherits its visitor's department and a forward to that same department is refused
(``error-forwarding-chat-same-department``); taking a room back from its agent inside its
department is ``returnAsInquiry``. Must not import Flask, an HTTP client or adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from service.domain.ports import Room

Action = Literal["none", "forward_agent", "forward_department", "return_to_queue"]

# Why a conversation goes to the team, in the words of the transfer comment agents read.
WHY: Final = {
    "owner_offline_team": "el dueño no está disponible",
    "owner_busy_team": "el dueño tiene el máximo de chats",
    "outside_hours_team": "fuera del horario del dueño",
    "team_only_cartera": "cartera compartida del equipo",
    "owner_timeout_team": "el dueño no la tomó a tiempo",
    "owner_unavailable_team": "el dueño no puede recibirla en Rocket.Chat",
    "handover": "traspaso de cartera",
}


@dataclass(frozen=True)
class Handoff:
    action: Action
    comment: str = ""
    agent_id: str | None = None
    department_id: str | None = None

    @property
    def record(self) -> str | None:
        """What the conversation keeps as ``forwarded_to`` once the step is done."""
        if self.agent_id:
            return f"agent:{self.agent_id}"
        if self.department_id:
            return f"department:{self.department_id}"
        return None


def badge(icon: str | None, name: str | None) -> str:
    """``<icon> <cartera>``: the room topic, custom field and live badge text."""
    return f"{icon or ''} {name or ''}".strip()


def tags(cartera_name: str | None, team_name: str | None) -> list[str]:
    found = [f"cartera:{cartera_name}"] if cartera_name else []
    if team_name:
        found.append(f"equipo:{team_name}")
    return found


def display_name(badge_text: str, contact_name: str) -> str:
    """The visitor's name as agents see it in the sidebar, when the badge goes there too."""
    prefix = f"{badge_text} · "
    return contact_name if contact_name.startswith(prefix) else prefix + contact_name


def comment(badge_text: str, why: str) -> str:
    return f"Cartera {badge_text}: {why}"


def to_owner(badge_text: str, owner_id: str, room: Room | None) -> Handoff:
    """To the cartera's agent; nothing to do when Rocket.Chat already gave it the room."""
    if room is not None and room.served_by == owner_id:
        return Handoff("none", agent_id=owner_id)
    return Handoff(
        "forward_agent", comment(badge_text, "asignada al dueño de la cartera"), agent_id=owner_id
    )


def to_team(
    badge_text: str,
    department_id: str,
    room: Room | None,
    reason: str,
    *,
    take_from: str | None = None,
) -> Handoff:
    """To the team's department. A room already there stays (Rocket.Chat routes it inside
    the department), unless *take_from* (the owner who did not answer) still serves it:
    then it goes back to the department's queue, since a same-department forward is refused."""
    text = comment(badge_text, f"asignada al equipo ({WHY.get(reason, reason)})")
    if room is not None and room.department_id == department_id:
        if take_from is not None and room.served_by == take_from:
            return Handoff("return_to_queue", text, department_id=department_id)
        return Handoff("none", department_id=department_id)
    return Handoff("forward_department", text, department_id=department_id)
