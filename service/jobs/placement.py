"""Putting a routed room where its decision says, in Rocket.Chat: the badge where agents look,
and the hand-over to the owner or the team, following what the real server accepts
(service/domain/handoffs.py decides; these functions make the calls and record each step)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from service.domain import conversations as convs
from service.domain import handoffs
from service.domain.ports import AgentUnavailable, Ports, Room, SameDepartment
from service.domain.routing import CARTERA_INACTIVE, OWNER_UNAVAILABLE_TEAM, OwnerView
from service.jobs import runtime
from service.jobs.enqueue import schedule_fallback
from service.models import Agent, Contact, Conversation


def _untagged(conversation: Conversation) -> bool:
    return (
        conversation.rc_tagged_at is None
        and conversation.cartera_id is not None
        and conversation.reason != CARTERA_INACTIVE
    )


def unplaced(conversation: Conversation) -> bool:
    return conversation.forwarded_to is None and conversation.routed_to != "queue"


def tag(session: Session, conversation: Conversation, ports: Ports, now: datetime) -> None:
    """The badge where agents look: topic, tags, the ``cartera`` field and, when set, the
    visitor's display name. Once per conversation."""
    if not _untagged(conversation):
        return
    assert conversation.rc_room_id
    text = handoffs.badge(conversation.cartera_icon, conversation.cartera_name)
    contact = session.get(Contact, conversation.contact_id) if conversation.contact_id else None
    ports.chat.tag_room(
        visitor_id=conversation.rc_visitor_id or "",
        room_id=conversation.rc_room_id,
        tags=handoffs.tags(conversation.cartera_name, conversation.team_name),
        badge=text,
        visitor_name=handoffs.display_name(text, contact.name)
        if contact is not None and runtime.settings().badge_in_visitor_name
        else None,
    )
    # Recorded with the caller's next commit (the forward's, or the job's last): tagging
    # again after a failed try sets the same topic, tags and field (idempotent).
    conversation.rc_tagged_at = now


def do(ports: Ports, room_id: str, step: handoffs.Handoff) -> None:
    """One handoff call; a step that needs no call does nothing."""
    if step.action == "forward_agent":
        ports.chat.forward(room_id, agent_id=step.agent_id, comment=step.comment)
    elif step.action == "forward_department":
        ports.chat.forward(room_id, department_id=step.department_id, comment=step.comment)
    elif step.action == "return_to_queue":
        ports.chat.return_to_queue(room_id, step.department_id)


def to_team(
    ports: Ports,
    conversation: Conversation,
    room: Room | None,
    department_id: str,
    reason: str,
    *,
    take_from: str | None = None,
) -> None:
    assert conversation.rc_room_id
    text = handoffs.badge(conversation.cartera_icon, conversation.cartera_name)
    step = handoffs.to_team(text, department_id, room, reason, take_from=take_from)
    try:
        do(ports, conversation.rc_room_id, step)
    except SameDepartment:
        # The room is in that department after all (what we knew of it was stale, or an
        # earlier try went through and its answer was lost): decide again on what it is now.
        # A room still refused is not placed, and never recorded as placed.
        current = ports.chat.room(conversation.rc_room_id)
        step = handoffs.to_team(text, department_id, current, reason, take_from=take_from)
        if step.action == "forward_department":
            raise
        do(ports, conversation.rc_room_id, step)
    conversation.forwarded_to = step.record
    conversation.routed_to = "team"


def owner_user_id(
    session: Session, conversation: Conversation, owner: OwnerView | None
) -> str | None:
    """The Rocket.Chat user of the conversation's agent: from *owner* (what the job read to
    decide) when it is that agent, else read."""
    if not conversation.agent_id:
        return None
    if owner is not None and owner.id == conversation.agent_id:
        return owner.rocketchat_user_id
    agent = session.get(Agent, conversation.agent_id)
    return agent.rocketchat_user_id if agent is not None else None


def place(
    session: Session,
    conversation: Conversation,
    room: Room | None,
    ports: Ports,
    now: datetime,
    owner: OwnerView | None = None,
    *,
    commit: bool = True,
) -> datetime | None:
    """Put the room where the decision says: the owner, else the team's department. An owner
    Rocket.Chat refuses (offline, inactive, gone) hands it to the team instead.

    Committed, and the owner's fallback scheduled, at once; with ``commit=False`` both are
    the caller's, after its own commit: the time the fallback is due is returned (None: no
    fallback)."""
    assert conversation.rc_room_id
    if not unplaced(conversation):
        return None
    text = handoffs.badge(conversation.cartera_icon, conversation.cartera_name)
    agent_user_id = (
        owner_user_id(session, conversation, owner) if conversation.routed_to == "agent" else None
    )
    if agent_user_id:
        step = handoffs.to_owner(text, agent_user_id, room)
        try:
            do(ports, conversation.rc_room_id, step)
        except AgentUnavailable:
            convs.note(conversation, "owner_unavailable", at=now.isoformat())
            conversation.reason = OWNER_UNAVAILABLE_TEAM
        else:
            conversation.forwarded_to = step.record
            seconds = int(conversation.trace.get("owner_timeout_seconds") or 0)
            conversation.owner_deadline_at = convs.deadline(now, seconds)
    if conversation.forwarded_to is None:
        if not conversation.department_id:
            conversation.routed_to = "queue"
            if commit:
                session.commit()
            return None
        to_team(ports, conversation, room, conversation.department_id, conversation.reason)
    conversation.forwarded_at = now
    due = conversation.owner_deadline_at
    if commit:
        session.commit()
        if due is not None:
            schedule_fallback(conversation.id, due)
    return due
