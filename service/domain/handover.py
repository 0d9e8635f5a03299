"""Handover: when an agent leaves, every cartera it owns moves in one audited action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import audit
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.errors import Invalid, NotFound
from service.domain.org import end_agent_sessions, get_agent, record_agent_state
from service.models import Agent, Cartera, Conversation

OpenConversations = Literal["reforward", "leave"]


@dataclass
class HandoverPlan:
    agent_id: int
    agent_name: str
    to_agent_id: int | None
    to_agent_name: str | None
    deactivate_agent: bool
    open_conversations: OpenConversations
    carteras: list[dict[str, Any]] = field(default_factory=list)
    conversation_ids: list[int] = field(default_factory=list)
    applied: bool = False


def plan(
    session: Session,
    actor: Actor,
    agent_id: int,
    *,
    to_agent_id: int | None,
    deactivate_agent: bool,
    open_conversations: OpenConversations,
) -> HandoverPlan:
    """What a handover would change (nothing is written).

    :raise NotFound: no such agent.
    :raise Invalid: the target is the same agent, unknown, inactive, or not in the team of a
        cartera it would own; a "team only" handover of a cartera that has no team.
    """
    require_all_carteras(actor)
    agent = get_agent(session, agent_id)
    target: Agent | None = None
    if to_agent_id is not None:
        if to_agent_id == agent_id:
            raise Invalid.field("to_agent_id", "hand over to someone else", "handover.same_agent")
        try:
            target = get_agent(session, to_agent_id)
        except NotFound:
            raise Invalid.field(
                "to_agent_id", f"no such agent: {to_agent_id}", "agent.not_found"
            ) from None
        if not target.active:
            raise Invalid.field("to_agent_id", "the agent is inactive", "agent.inactive")
    owned = list(
        session.scalars(
            select(Cartera).where(Cartera.agent_id == agent.id).order_by(Cartera.name_key)
        )
    )
    target_teams = {t.id for t in target.teams} if target else set()
    problems = [
        c.name
        for c in owned
        if (target is None and c.team_id is None)
        or (target is not None and c.team_id is not None and c.team_id not in target_teams)
    ]
    if problems:
        why = (
            "has no team to keep it"
            if target is None
            else "belongs to a team the new owner is not in"
        )
        rule = "handover.no_team" if target is None else "handover.outside_team"
        error = Invalid(
            f"to_agent_id: each of these carteras {why}: {', '.join(problems)}",
            {"fields": {"to_agent_id": [why]}, "carteras": problems},
            rule=rule,
            carteras=", ".join(problems),
        )
        error.field_rules["to_agent_id"] = (rule, {"carteras": ", ".join(problems)})
        raise error
    conversations = (
        list(
            session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.cartera_id.in_([c.id for c in owned]),
                    Conversation.status == "open",
                    Conversation.agent_id == agent.id,
                )
                .order_by(Conversation.id)
            )
        )
        if owned
        else []
    )
    return HandoverPlan(
        agent_id=agent.id,
        agent_name=agent.name,
        to_agent_id=target.id if target else None,
        to_agent_name=target.name if target else None,
        deactivate_agent=deactivate_agent,
        open_conversations=open_conversations,
        carteras=[
            {
                "id": c.id,
                "name": c.name,
                "team_id": c.team_id,
                "from_agent_id": agent.id,
                "to_agent_id": target.id if target else None,
            }
            for c in owned
        ],
        conversation_ids=conversations if open_conversations == "reforward" else [],
    )


def apply(session: Session, actor: Actor, handover: HandoverPlan) -> HandoverPlan:
    """Move the carteras, maybe deactivate the agent, and write one ``handover`` event.
    Past conversations keep the owner they were routed with (domain rule 6)."""
    require_all_carteras(actor)
    ids = [c["id"] for c in handover.carteras]
    for cartera in session.scalars(select(Cartera).where(Cartera.id.in_(ids))):
        cartera.agent_id = handover.to_agent_id
    agent = get_agent(session, handover.agent_id)
    if handover.deactivate_agent and agent.active:
        agent.active = False
        end_agent_sessions(session, agent.id)
        record_agent_state(session, actor, agent)
    session.flush()
    audit.record(
        session,
        actor,
        "handover",
        "agent",
        agent.id,
        agent.name,
        before={"agent_id": agent.id, "cartera_ids": ids},
        after={"agent_id": handover.to_agent_id, "cartera_ids": ids},
        details={
            "carteras": handover.carteras,
            "to_agent_name": handover.to_agent_name,
            "deactivate_agent": handover.deactivate_agent,
            "open_conversations": handover.open_conversations,
            "reforwarded_conversation_ids": handover.conversation_ids,
        },
    )
    handover.applied = True
    return handover
