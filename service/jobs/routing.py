"""Route an inbound message: its conversation, the decision, the Rocket.Chat steps, the badge.

The Rocket.Chat steps are recorded so that a retry or a replay never doubles anything: the
visitor with the new conversation, before its room opens; each file as it goes; the room,
the posted message, the tags and the forward with the job's last commit, since the real
server answers each of them again without a second room, message, tag or forward (see
_channel_message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain import attachments, handoffs, outbound
from service.domain import conversations as convs
from service.domain.identity import EMAIL, PHONE
from service.domain.ports import (
    AgentUnavailable,
    Ports,
    Room,
    RoomClosed,
    Visitor,
)
from service.domain.routing import (
    OWNER_TIMEOUT_TEAM,
    CarteraView,
    OwnerView,
    RoutingDecision,
    RoutingInput,
    decide,
    within_hours,
)
from service.jobs import files, placement, runtime
from service.jobs.enqueue import enqueue_replies
from service.models import Contact, Conversation, InboxMessage

log = logging.getLogger(__name__)
# Rocket.Chat events that start a conversation inside Rocket.Chat (web chat, its own inboxes).
RC_OPENERS = frozenset({"LivechatSessionStart", "LivechatSessionQueued", "visitor_message"})


@dataclass(frozen=True)
class Routed:
    conversation: Conversation
    created: bool
    # The cartera's owner as the new conversation's decision saw it (not read again).
    owner: OwnerView | None = None
    # When the owner's time to take the conversation runs out: the fallback to schedule once
    # the job's last commit has recorded the forward (placement.place, commit=False).
    fallback_at: datetime | None = None


# Registers the Rocket.Chat visitor of a conversation about to open, given its decision.
Register = Callable[[RoutingDecision], Visitor]


def decision_for(
    session: Session, contact: Contact, ports: Ports, now: datetime
) -> tuple[CarteraView | None, RoutingDecision]:
    """Gather what the policy needs (current cartera, owner presence and load), then decide."""
    view = convs.cartera_view(session, contact.cartera_id)
    presence, load = None, 0
    owner = view.owner if view else None
    if (
        view is not None
        and view.active
        and owner is not None
        and owner.active
        and owner.rocketchat_user_id
        and within_hours(view.business_hours, now)
    ):
        presence = ports.chat.presence(owner.rocketchat_user_id)
        load = owner.open_chats  # read with the cartera (convs.cartera_view)
    decision = decide(RoutingInput(cartera=view, now=now, presence=presence, owner_open_chats=load))
    decision.trace["platform"] = ports.chat.name
    decision.trace["owner_timeout_seconds"] = decision.owner_deadline_seconds
    return view, decision


def _open(
    session: Session,
    row: InboxMessage,
    contact: Contact,
    thread_key: str,
    ports: Ports,
    now: datetime,
    register: Register | None = None,
) -> Routed:
    """The open conversation of this thread, or a new one routed to the current owner (with
    its Rocket.Chat visitor, registered by *register*, in the same commit)."""
    found = convs.find_open(session, contact.id, row.channel, thread_key)
    if found is not None:
        return Routed(found, False)
    view, decision = decision_for(session, contact, ports, now)
    # Registering is idempotent in Rocket.Chat (a retry finds the same visitor by its token),
    # so it goes first and the conversation is stored with it: one commit, and committed
    # before the room opens (see _channel_message).
    visitor = register(decision) if register is not None else None
    try:
        conversation = convs.start(
            session,
            contact=contact,
            row=row,
            thread_key=thread_key,
            cartera=view,
            decision=decision,
            now=now,
            visitor=visitor,
        )
        # seen by the room's echo at once; durable with the job's last commit
        runtime.commit_step(session)
    except IntegrityError:  # another job opened this thread's conversation meanwhile
        session.rollback()
        found = convs.find_open(session, contact.id, row.channel, thread_key)
        if found is None:
            raise
        return Routed(found, False)
    return Routed(conversation, True, view.owner if view else None)


def _message_text(row: InboxMessage) -> str | None:
    """The message's text (a caption goes first, then its files: jobs/files.py); a message
    with neither says what the customer sent."""
    if row.text:
        return row.text
    return None if row.attachments else attachments.unsupported(row.kind)


def _channel_message(
    session: Session,
    row: InboxMessage,
    contact: Contact,
    ports: Ports,
    now: datetime,
    *,
    reopened: bool = False,
) -> Routed:
    assert row.thread_key
    assert row.sender_kind
    assert row.sender_value
    chat = ports.chat
    sender_kind, sender_value = row.sender_kind, row.sender_value

    def register(routed_to: str, department_id: str | None) -> Visitor:
        return chat.register_visitor(
            convs.visitor_token(sender_kind, sender_value),
            name=contact.name,
            phone=sender_value if sender_kind == PHONE else None,
            email=sender_value if sender_kind == EMAIL else None,
            # The department only when the team serves it: a room routed to the owner must
            # stay outside it, or handing it back to the team would be a same-department
            # forward, which Rocket.Chat refuses.
            department=department_id if routed_to == "team" else None,
        )

    routed = _open(
        session,
        row,
        contact,
        row.thread_key,
        ports,
        now,
        lambda decision: register(decision.target, decision.department_id),
    )
    conversation = routed.conversation
    row.conversation_id = conversation.id
    conversation.last_message_at = now
    # Registering the visitor and opening its room are idempotent in Rocket.Chat (a retry
    # finds the same visitor and open room); the visitor is committed before the room opens
    # (with the new conversation, in _open), the room with the posted message, whose id
    # Rocket.Chat refuses twice.
    if conversation.rc_visitor_token is None:
        visitor = register(conversation.routed_to, conversation.department_id)
        conversation.rc_visitor_token, conversation.rc_visitor_id = visitor.token, visitor.id
        # Committed before the room opens: Rocket.Chat sends its room-start webhook, and
        # waits for it, before it answers (lib/QueueManager.ts), and that echo must find
        # this conversation by its visitor token (seen at once, even as a step).
        runtime.commit_step(session)
    room: Room | None = None
    if conversation.rc_room_id is None:
        room = chat.open_room(
            conversation.rc_visitor_token,
            agent_id=placement.owner_user_id(session, conversation, routed.owner)
            if conversation.routed_to == "agent"
            else None,
        )
        # Not committed alone: asked again, Rocket.Chat answers the visitor's open room
        # (GET livechat/room without rid: findOneOpenByVisitorToken, newRoom false, in
        # apps/meteor/app/livechat/server/api/v1/room.ts), so it is recorded with the message.
        conversation.rc_room_id = room.id
    if row.rc_message_id is None:
        message_id = f"carteras-{row.id}"
        text = _message_text(row)
        try:
            if text:
                chat.post_visitor_message(
                    conversation.rc_visitor_token, conversation.rc_room_id, text, message_id
                )
        except RoomClosed:
            if reopened:
                raise
            # Closed in Rocket.Chat: this message starts a new conversation, routed again
            # to the cartera's current owner.
            convs.close(conversation, now, "room closed in Rocket.Chat")
            session.commit()
            return _channel_message(session, row, contact, ports, now, reopened=True)
        row.rc_message_id = message_id
        if row.attachments:
            session.commit()  # the message before its files, each kept as it goes (files.py)
    # The room, the post, the badge and the hand-over are recorded with the job's last
    # commit (jobs/intake.py): the steps are idempotent on the real server, so a retry after
    # a failure or a wait repeats them without doubling anything. Rocket.Chat answers the
    # visitor's open room again (room.ts, above); it refuses the post's id a second time and
    # the adapter reads the message back (adapters/rocketchat.py); the tags are merged and
    # set again; a room its owner or department holds already needs no forward
    # (domain/handoffs.py). The files are the exception: each upload is a new message.
    fallback_at = None
    try:
        files.deliver_files(session, row, conversation, ports)
        placement.tag(session, conversation, ports, now)
        if placement.unplaced(conversation):
            current = room or ports.chat.room(conversation.rc_room_id)
            if current is not None and not current.open:
                raise RoomClosed("closed before it was handed over", "room-closed")
            fallback_at = placement.place(
                session, conversation, current, ports, now, owner=routed.owner, commit=False
            )
    except RoomClosed:
        # Closed in Rocket.Chat right after the message went in: nothing is lost, the
        # conversation ends here and the customer's next message opens a new one. What
        # went through before (room, post, badge, a refusing owner) is kept with it.
        convs.close(conversation, now, "closed in Rocket.Chat before it was handed over")
        session.commit()
    return replace(routed, fallback_at=fallback_at) if fallback_at else routed


def _rocketchat_event(
    session: Session, row: InboxMessage, contact: Contact | None, ports: Ports, now: datetime
) -> Routed | None:
    room_id = row.thread_key
    if not room_id:
        return None
    if row.kind in RC_OPENERS:
        if contact is None:
            return None
        existing = convs.find_by_room(session, room_id)
        if existing is not None and existing.status == "open":
            return Routed(existing, False)  # sticky: already routed
        if convs.find_by_visitor(session, row.sender_value or "") is not None:
            return None  # the echo of a room this service opened: routed by its own job
        routed = _open(session, row, contact, room_id, ports, now)
        conversation = routed.conversation
        visitor = row.payload.get("visitor") or {}
        conversation.rc_room_id = room_id
        conversation.rc_visitor_token = row.sender_value
        conversation.rc_visitor_id = str(visitor.get("_id") or "")
        row.conversation_id = conversation.id
        session.commit()
        placement.tag(session, conversation, ports, now)
        placement.place(session, conversation, ports.chat.room(room_id), ports, now)
        return routed
    held = convs.find_by_room(session, room_id)
    if held is None:
        return None
    # Locked until the commit below, and read again once locked: an owner fallback that claims
    # the row meanwhile (claim_fallback holds it to its commit) would otherwise lose its trace
    # events to this write of a trace read before them.
    session.refresh(held, with_for_update={"of": Conversation})
    row.conversation_id = held.id
    agent = row.payload.get("agent") or row.payload.get("servedBy") or {}
    reply_id = None
    if row.kind in ("agent_message", "agent_message_edit"):
        # "taken" means the agent answered: a forward alone assigns without anyone reading.
        convs.mark_taken(session, held, now, agent)
        reply_id = outbound.record_reply(
            session, row, held, now, files_base=runtime.settings().rocketchat_url
        )
    elif row.kind == "LivechatSession":
        convs.close(held, now, "closed in Rocket.Chat")
    elif row.kind in ("LivechatSessionTaken", "LivechatSessionForwarded"):
        # taken from the queue or forwarded: who serves it now (not an answer yet)
        convs.mark_serving(session, held, agent)
        convs.note(held, row.kind, at=now.isoformat())
    else:
        convs.note(held, row.kind, at=now.isoformat())
    session.commit()
    if reply_id is not None:
        enqueue_replies([reply_id])
    return Routed(held, False)


def route(
    session: Session, row: InboxMessage, contact: Contact | None, ports: Ports, now: datetime
) -> Routed | None:
    """Route one claimed inbox row; None when there is nothing to route."""
    if row.provider == "rocketchat":
        return _rocketchat_event(session, row, contact, ports, now)
    if contact is None or not row.thread_key or not row.sender_value:
        return None
    return _channel_message(session, row, contact, ports, now)


def emit_badge(session: Session, conversation: Conversation, ports: Ports) -> None:
    contact = session.get(Contact, conversation.contact_id) if conversation.contact_id else None
    try:
        ports.badges.emit(
            convs.badge(conversation, contact.name if contact else None),
            convs.badge_rooms(conversation),
        )
    except Exception:  # a live badge is a courtesy: never fail the routing for it
        log.exception("badge not emitted", extra={"conversation_id": conversation.id})


def owner_fallback(conversation_id: int) -> str:
    """The owner did not take the conversation in time: take it from the owner and give it
    to the team (back to the department's queue when the room is in it already)."""
    with runtime.run("owner_fallback", conversation_id=conversation_id) as job:
        session, wired = job.session, job.ports
        now = wired.clock.now()
        if not convs.claim_fallback(session, conversation_id, now):
            session.rollback()
            job.outcome = "skipped"
            return job.outcome
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.rc_room_id
        room = wired.chat.room(conversation.rc_room_id)
        if room is None or not room.open:
            convs.close(conversation, now, "closed in Rocket.Chat before the owner timeout")
        elif conversation.department_id:
            owner = (conversation.forwarded_to or "").removeprefix("agent:") or None
            try:
                placement.to_team(
                    wired,
                    conversation,
                    room,
                    conversation.department_id,
                    OWNER_TIMEOUT_TEAM,
                    take_from=owner,
                )
            except RoomClosed:
                convs.close(conversation, now, "closed in Rocket.Chat before the owner timeout")
        conversation.reason = OWNER_TIMEOUT_TEAM
        convs.note(
            conversation,
            "owner_timeout",
            at=now.isoformat(),
            forwarded_to=conversation.forwarded_to,
        )
        session.commit()
        emit_badge(session, conversation, wired)
        job.outcome = "fallback"
        return job.outcome


def reforward(conversation_id: int) -> str:
    """After a handover: send an open conversation to its cartera's new owner, or to the
    team when there is none or Rocket.Chat refuses the owner (offline, inactive, gone)."""
    with runtime.run("reforward", conversation_id=conversation_id) as job:
        session, wired = job.session, job.ports
        job.outcome = "skipped"
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.status != "open" or not conversation.rc_room_id:
            return job.outcome
        view = convs.cartera_view(session, conversation.cartera_id)
        owner = view.owner if view else None
        text = handoffs.badge(conversation.cartera_icon, conversation.cartera_name)
        room = wired.chat.room(conversation.rc_room_id)
        if room is None or not room.open:
            convs.close(conversation, wired.clock.now(), "closed in Rocket.Chat")
            session.commit()
            return job.outcome
        placed = False
        if owner is not None and owner.active and owner.rocketchat_user_id:
            if conversation.forwarded_to == f"agent:{owner.rocketchat_user_id}":
                return job.outcome  # a retry after it went through
            step = handoffs.to_owner(text, owner.rocketchat_user_id, room)
            step = handoffs.Handoff(
                step.action, handoffs.comment(text, "traspaso al nuevo dueño"), step.agent_id
            )
            try:
                placement.do(wired, conversation.rc_room_id, step)
            except AgentUnavailable:
                convs.note(conversation, "owner_unavailable", at=wired.clock.now().isoformat())
            else:
                conversation.forwarded_to = step.record
                conversation.agent_id, conversation.agent_name = owner.id, owner.name
                conversation.routed_to = "agent"
                placed = True
        if not placed:
            if view is None or not view.department_id:
                session.commit()
                return job.outcome
            previous = (conversation.forwarded_to or "").removeprefix("agent:") or None
            placement.to_team(
                wired, conversation, room, view.department_id, "handover", take_from=previous
            )
        conversation.forwarded_at = wired.clock.now()
        convs.note(
            conversation,
            "handover",
            at=conversation.forwarded_at.isoformat(),
            forwarded_to=conversation.forwarded_to,
        )
        session.commit()
        emit_badge(session, conversation, wired)
        job.outcome = "reforwarded"
        return job.outcome
