"""Conversations: open one per contact and thread with its routing decision, keep later
messages in it (sticky), close it, and show it (domain rules 4 and 6)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from service.domain import access, presence, rows
from service.domain.actor import Actor
from service.domain.errors import NotFound
from service.domain.pagination import Page, paginate
from service.domain.periods import dates_range
from service.domain.ports import Visitor
from service.domain.routing import CarteraView, OwnerView, RoutingDecision
from service.models import (
    Agent,
    Cartera,
    Contact,
    Conversation,
    InboxMessage,
    Team,
    agent_teams,
)


def visitor_token(kind: str, value: str) -> str:
    """A stable, URL-safe Rocket.Chat visitor token for a channel handle."""
    return hashlib.sha256(f"carteras:{kind}:{value}".encode()).hexdigest()[:32]


# The routing job's per-message reads, built once (building them per call cost about as
# much as running them).
_CONVERSATIONS = Conversation.__table__.c
_CARTERAS, _TEAMS, _AGENTS = Cartera.__table__, Team.__table__, Agent.__table__
# The cartera with its team and agent, and the agent's open chats (the owner's load), in one
# round trip and as plain columns: loading the mapped Cartera (with its joined team, agent
# and region) cost the routing job more than the query itself.
_CARTERA_VIEW: Final = (
    select(
        _CARTERAS.c.id,
        _CARTERAS.c.name,
        _CARTERAS.c.icon,
        _CARTERAS.c.color,
        _CARTERAS.c.active,
        _CARTERAS.c.team_id,
        _CARTERAS.c.owner_timeout_seconds,
        _CARTERAS.c.business_hours,
        _TEAMS.c.name.label("team_name"),
        _TEAMS.c.rocketchat_department_id,
        _AGENTS.c.id.label("agent_id"),
        _AGENTS.c.name.label("agent_name"),
        _AGENTS.c.active.label("agent_active"),
        _AGENTS.c.rocketchat_user_id,
        _AGENTS.c.max_open_chats,
        select(func.count(_CONVERSATIONS.id))
        .where(
            _CONVERSATIONS.agent_id == _AGENTS.c.id,
            _CONVERSATIONS.status == "open",
            _CONVERSATIONS.routed_to == "agent",
        )
        .scalar_subquery()
        .label("open_chats"),
    )
    .select_from(
        _CARTERAS.outerjoin(_TEAMS, _TEAMS.c.id == _CARTERAS.c.team_id).outerjoin(
            _AGENTS, _AGENTS.c.id == _CARTERAS.c.agent_id
        )
    )
    .where(_CARTERAS.c.id == bindparam("cartera_id"))
)


def cartera_view(session: Session, cartera_id: int | None) -> CarteraView | None:
    """The contact's current cartera with its current owners (and the owner's open chats),
    as routing needs it."""
    if cartera_id is None:
        return None
    row = session.execute(_CARTERA_VIEW, {"cartera_id": cartera_id}).one_or_none()
    if row is None:
        return None
    owner = (
        OwnerView(
            id=row.agent_id,
            name=row.agent_name,
            active=row.agent_active,
            rocketchat_user_id=row.rocketchat_user_id,
            max_open_chats=row.max_open_chats,
            open_chats=row.open_chats or 0,
        )
        if row.agent_id is not None
        else None
    )
    return CarteraView(
        id=row.id,
        name=row.name,
        icon=row.icon,
        color=row.color,
        active=row.active,
        team_id=row.team_id,
        team_name=row.team_name,
        department_id=row.rocketchat_department_id,
        owner=owner,
        owner_timeout_seconds=row.owner_timeout_seconds or 0,
        business_hours=row.business_hours,
    )


# Read and written as table rows, the objects made by rows.adopt: the ORM's loading of a
# conversation and its unit of work for the insert cost the job more than the statements.
_FIND_OPEN: Final = select(*Conversation.__table__.c).where(
    _CONVERSATIONS.contact_id == bindparam("contact_id"),
    _CONVERSATIONS.channel == bindparam("channel"),
    _CONVERSATIONS.thread_key == bindparam("thread_key"),
    _CONVERSATIONS.status == "open",
)


@functools.cache
def _insert(given: tuple[str, ...]) -> Any:
    """A conversation's INSERT returning what the database made of it (its id, and the
    columns not *given*, with their defaults); the given values are kept as passed, as the
    ORM keeps them."""
    table = cast(Table, Conversation.__table__)
    return insert(table).returning(*(column for column in table.c if column.key not in given))


_OPEN_PREFIX: Final = "open_"  # the labels of a conversation's columns read by another query
_OPEN_READ: Final = "carteras.conversations.open_read"  # session.info: open_columns' answers


def open_columns(contact_id: Any, channel: Any, thread_key: Any) -> tuple[Any, Any]:
    """For a query about a contact (*contact_id*, a column of it) that also reads the open
    conversation of one of its threads: the conversation's columns, labeled, and the join's
    ``ON`` clause (an outer join: a thread without an open conversation reads NULLs). Its
    answer is kept with ``read_open`` for ``find_open``."""
    table = cast(Table, Conversation.__table__)
    columns = [column.label(_OPEN_PREFIX + column.key) for column in table.c]
    joined = and_(
        _CONVERSATIONS.contact_id == contact_id,
        _CONVERSATIONS.channel == channel,
        _CONVERSATIONS.thread_key == thread_key,
        _CONVERSATIONS.status == "open",
    )
    return columns, joined


def read_open(
    session: Session, contact_id: int, channel: str, thread_key: str, row: Mapping[Any, Any]
) -> None:
    """Keep what a query with ``open_columns`` read of this thread's open conversation (or
    that it has none): ``find_open`` answers it without a statement, in the same transaction
    only (a commit or a rollback ends what it says)."""
    conversation = None
    if row[_OPEN_PREFIX + "id"] is not None:
        values = {column.key: row[_OPEN_PREFIX + column.key] for column in _CONVERSATIONS}
        conversation = rows.adopt(session, Conversation, values)
    key = (contact_id, channel, thread_key)
    session.info[_OPEN_READ] = (session.get_transaction(), key, conversation)


def find_open(
    session: Session, contact_id: int, channel: str, thread_key: str
) -> Conversation | None:
    """The open conversation of a contact's thread. Its contact is not read with it (the
    caller holds it already), nor anything else it relates to. Read already in this
    transaction with the contact (``read_open``): that answer, once."""
    known = session.info.pop(_OPEN_READ, None)
    if known is not None:
        transaction, key, conversation = known
        if key == (contact_id, channel, thread_key) and transaction is session.get_transaction():
            return cast(Conversation | None, conversation)
    session.flush()  # what the session's autoflush would do before a query
    params = {"contact_id": contact_id, "channel": channel, "thread_key": thread_key}
    found = session.connection().execute(_FIND_OPEN, params).first()
    return None if found is None else rows.adopt(session, Conversation, found._mapping)


def find_by_room(session: Session, room_id: str) -> Conversation | None:
    """The newest conversation held in a Rocket.Chat room."""
    return session.scalar(
        select(Conversation)
        .where(Conversation.rc_room_id == room_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def find_by_visitor(session: Session, visitor_token: str) -> Conversation | None:
    """The open conversation this service holds for a Rocket.Chat visitor token."""
    if not visitor_token:
        return None
    return session.scalar(
        select(Conversation)
        .where(Conversation.rc_visitor_token == visitor_token, Conversation.status == "open")
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def start(
    session: Session,
    *,
    contact: Contact,
    row: InboxMessage,
    thread_key: str,
    cartera: CarteraView | None,
    decision: RoutingDecision,
    now: datetime,
    visitor: Visitor | None = None,
) -> Conversation:
    """Open a conversation with its decision and a snapshot of who it was routed with (the
    names from the cartera's view when the decision names its owner and team, read from the
    database otherwise), and the Rocket.Chat visitor when it is registered already."""
    agent_name = team_name = None
    if decision.agent_id:
        owner = cartera.owner if cartera else None
        if owner is not None and owner.id == decision.agent_id:
            agent_name = owner.name
        else:
            agent = session.get(Agent, decision.agent_id)
            agent_name = agent.name if agent else None
    if decision.team_id:
        if cartera is not None and cartera.team_id == decision.team_id:
            team_name = cartera.team_name
        else:
            team = session.get(Team, decision.team_id)
            team_name = team.name if team else None
    values = dict(
        contact_id=contact.id,
        channel=row.channel,
        provider=row.provider,
        thread_key=thread_key,
        status="open",
        cartera_id=cartera.id if cartera else None,
        cartera_name=cartera.name if cartera else None,
        cartera_icon=cartera.icon if cartera else None,
        cartera_color=cartera.color if cartera else None,
        team_id=decision.team_id if team_name is not None else None,
        team_name=team_name,
        agent_id=decision.agent_id if agent_name is not None else None,
        agent_name=agent_name,
        rc_visitor_token=visitor.token if visitor else None,
        rc_visitor_id=visitor.id if visitor else None,
        routed_to=decision.target,
        department_id=decision.department_id,
        reason=decision.reason,
        trace=decision.trace,
        opened_at=now,
        last_message_at=now,
    )
    session.flush()  # anything pending goes first, as the session's flush would order it
    inserted = session.connection().execute(_insert(tuple(values)), values).one()
    return rows.adopt(session, Conversation, {**values, **inserted._mapping})


def note(conversation: Conversation, event: str, **details: Any) -> None:
    """Append an event to the conversation's trace (owner fallback, room closed, ...)."""
    events = list(conversation.trace.get("events", []))
    events.append({"event": event, **details})
    conversation.trace = {**conversation.trace, "events": events}


def close(conversation: Conversation, now: datetime, why: str) -> None:
    if conversation.status == "open":
        conversation.status = "closed"
        conversation.closed_at = now
        note(conversation, "closed", at=now.isoformat(), why=why)


def mark_taken(
    session: Session, conversation: Conversation, now: datetime, agent: Mapping[str, Any]
) -> None:
    """An agent answered: the first answer takes the conversation (the owner wait is over);
    every answer records who serves it now (a team fallback or a transfer taken by a
    colleague), so that agent sees the contact while it is open (access.serving).

    *agent* is the webhook's ``agent`` (Rocket.Chat's room ``servedBy``: ``_id``, ``username``).
    """
    by = agent.get("username")
    mark_serving(session, conversation, agent)
    if conversation.taken_at is None:
        conversation.taken_at = now
        note(conversation, "taken", at=now.isoformat(), by=by)


def mark_serving(session: Session, conversation: Conversation, agent: Mapping[str, Any]) -> None:
    """Record the agent Rocket.Chat says serves the room now (an answer, a chat taken from
    the queue, a forward); an agent we do not know changes nothing."""
    serving = _agent_of(session, agent)
    if serving is not None and conversation.served_by_agent_id != serving:
        conversation.served_by_agent_id = serving
        note(conversation, "serving", agent_id=serving, by=agent.get("username"))


def _agent_of(session: Session, agent: Mapping[str, Any]) -> int | None:
    """Our agent for Rocket.Chat's user id, else its username; None when unknown."""
    user_id, username = agent.get("_id"), agent.get("username")
    for column, value in (
        (Agent.rocketchat_user_id, user_id),
        (Agent.rocketchat_username, username),
    ):
        if isinstance(value, str) and value:
            found = session.scalar(select(Agent.id).where(column == value))
            if found is not None:
                return int(found)
    return None


def claim_fallback(session: Session, conversation_id: int, now: datetime) -> bool:
    """Compare-and-set: the owner did not take it in time and nobody fell back yet."""
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.status == "open",
            Conversation.routed_to == "agent",
            Conversation.taken_at.is_(None),
            Conversation.fallback_at.is_(None),
            Conversation.owner_deadline_at <= now,
        )
        .values(fallback_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def overdue(session: Session, now: datetime) -> list[int]:
    """Conversations whose owner wait is over and that nobody took."""
    return list(
        session.scalars(
            select(Conversation.id).where(
                Conversation.status == "open",
                Conversation.routed_to == "agent",
                Conversation.taken_at.is_(None),
                Conversation.fallback_at.is_(None),
                Conversation.owner_deadline_at <= now,
            )
        )
    )


def badge(conversation: Conversation, contact_name: str | None) -> dict[str, Any]:
    """The live ``badge`` event sent to the agent's and the team's rooms."""
    return {
        "conversation_id": conversation.id,
        "contact": {"id": conversation.contact_id, "name": contact_name},
        "cartera": {
            "id": conversation.cartera_id,
            "name": conversation.cartera_name,
            "icon": conversation.cartera_icon,
            "color": conversation.cartera_color,
        }
        if conversation.cartera_id
        else None,
        "channel": conversation.channel,
        "routed_to": {
            "type": conversation.routed_to,
            "agent_id": conversation.agent_id,
            "team_id": conversation.team_id,
        },
        "reason": conversation.reason,
    }


ALL_CARTERAS_ROOM = "carteras:all"


def live_rooms(session: Session, actor: Actor) -> list[str]:
    """The live rooms an agent joins: its own, one per team it belongs to (conversations of
    customers without a cartera), and one per cartera it may see (access.visible_carteras),
    or the room of every cartera when it sees them all. Re-read on every live re-check, so
    a grant or a revocation moves the connection at once."""
    if actor.agent_id is None:
        return []
    agent = session.get(Agent, actor.agent_id)
    if agent is None or not agent.active:
        return []
    rooms = [f"agent:{agent.id}", *(f"team:{team.id}" for team in agent.teams)]
    if actor.sees_all:
        return [*rooms, ALL_CARTERAS_ROOM]
    ids = session.scalars(
        select(Cartera.id).where(access.visible_carteras(actor)).order_by(Cartera.id)
    )
    return [*rooms, *(f"cartera:{cartera_id}" for cartera_id in ids)]


def badge_rooms(conversation: Conversation) -> list[str]:
    """Where a conversation's badge goes: the agent serving it, and whoever may see its
    cartera (never the whole team, which would show a colleague's own cartera); a customer
    without a cartera is everyone's, so its team's room."""
    rooms = []
    if conversation.agent_id is not None:
        rooms.append(f"agent:{conversation.agent_id}")
    served = conversation.served_by_agent_id
    if served is not None and served != conversation.agent_id:
        rooms.append(f"agent:{served}")  # a colleague took the team fallback or a transfer
    if conversation.cartera_id is not None:
        rooms += [f"cartera:{conversation.cartera_id}", ALL_CARTERAS_ROOM]
    elif conversation.team_id is not None:
        rooms.append(f"team:{conversation.team_id}")
    return rooms


@dataclass(frozen=True)
class ConversationFilters:
    contact_id: int | None = None
    cartera_id: int | None = None
    agent_id: int | None = None
    channel: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def visible_conversations(actor: Actor) -> ColumnElement[bool]:
    """The conversations *actor* may read (access.visible_conversations). Every read of
    conversations (list, one, a contact's history) uses this one rule."""
    return access.visible_conversations(actor)


def list_conversations(
    session: Session,
    actor: Actor,
    filters: ConversationFilters,
    *,
    tz: ZoneInfo,
    page: int,
    per_page: int,
) -> Page[Conversation]:
    """Newest first; an agent sees the conversations of its carteras (as routed)."""
    stmt = (
        select(Conversation)
        .where(visible_conversations(actor))
        .order_by(Conversation.opened_at.desc(), Conversation.id.desc())
    )
    for column, value in (
        (Conversation.contact_id, filters.contact_id),
        (Conversation.cartera_id, filters.cartera_id),
        (Conversation.agent_id, filters.agent_id),
        (Conversation.channel, filters.channel),
        (Conversation.status, filters.status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    lower, upper = dates_range(filters.date_from, filters.date_to, tz)
    if lower is not None:
        stmt = stmt.where(Conversation.opened_at >= lower)
    if upper is not None:
        stmt = stmt.where(Conversation.opened_at < upper)
    return paginate(session, stmt, page, per_page)


def get_conversation(session: Session, actor: Actor, conversation_id: int) -> Conversation:
    """:raise NotFound: no such conversation, or (for an agent) not of its carteras."""
    stmt = select(Conversation).where(
        Conversation.id == conversation_id, visible_conversations(actor)
    )
    conversation = session.scalar(stmt)
    if conversation is None:
        raise NotFound(
            f"Conversation {conversation_id} does not exist.", {"conversation_id": conversation_id}
        )
    return conversation


def deadline(now: datetime, seconds: int) -> datetime | None:
    return now + timedelta(seconds=seconds) if seconds > 0 else None


def external_choice(
    session: Session,
    department_id: str | None,
    ignore_user_id: str | None,
    now: datetime,
    window: timedelta = timedelta(minutes=2),
    presence_age: timedelta = timedelta(seconds=45),
) -> tuple[str, str] | None:
    """Rocket.Chat's External Service routing asks only "which agent, for this department?".

    Answer with the owner of the newest conversation routed to its owner in that department
    that nobody took yet and whose wait has not run out (the chat Rocket.Chat is placing is
    almost always that one); else the least busy agent of the department's team. Only
    agents Rocket.Chat showed available within *presence_age* are named (domain/presence.py):
    Rocket.Chat uses an answer only when it names an online agent. None when nobody fits.
    """
    linked = Agent.rocketchat_user_id.is_not(None) & Agent.rocketchat_username.is_not(None)
    available = presence.available_now(now, presence_age)
    stmt = (
        select(Agent.rocketchat_user_id, Agent.rocketchat_username)
        .join(Conversation, Conversation.agent_id == Agent.id)
        .where(
            linked,
            available,
            Conversation.status == "open",
            Conversation.routed_to == "agent",
            Conversation.taken_at.is_(None),
            Conversation.opened_at >= now - window,
            Conversation.owner_deadline_at.is_(None) | (Conversation.owner_deadline_at > now),
        )
        .order_by(Conversation.opened_at.desc())
        .limit(1)
    )
    if department_id:
        stmt = stmt.where(Conversation.department_id == department_id)
    if ignore_user_id:
        stmt = stmt.where(Agent.rocketchat_user_id != ignore_user_id)
    owner = session.execute(stmt).first()
    if owner is not None:
        return str(owner[0]), str(owner[1])
    if not department_id:
        return None
    load = (
        select(func.count(Conversation.id))
        .where(Conversation.agent_id == Agent.id, Conversation.status == "open")
        .correlate(Agent)
        .scalar_subquery()
    )
    # an owner who let a chat wait past its deadline is not offered the team's chats either
    timed_out = select(Conversation.agent_id).where(
        Conversation.status == "open",
        Conversation.routed_to == "agent",
        Conversation.taken_at.is_(None),
        Conversation.owner_deadline_at <= now,
        Conversation.agent_id.is_not(None),
    )
    team_ids = select(Team.id).where(Team.rocketchat_department_id == department_id)
    members = select(agent_teams.c.agent_id).where(agent_teams.c.team_id.in_(team_ids))
    stmt = (
        select(Agent.rocketchat_user_id, Agent.rocketchat_username)
        .where(linked, available, Agent.id.in_(members), Agent.id.not_in(timed_out))
        .order_by(load, Agent.id)
        .limit(1)
    )
    if ignore_user_id:
        stmt = stmt.where(Agent.rocketchat_user_id != ignore_user_id)
    member = session.execute(stmt).first()
    return (str(member[0]), str(member[1])) if member is not None else None
