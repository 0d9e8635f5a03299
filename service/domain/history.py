"""A contact's ownership history, read from the audit log (no second source of truth):
every cartera it was in, every owner change of those carteras, and the conversations routed
under each owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.actor import Actor
from service.domain.contacts import get_contact
from service.domain.conversations import visible_conversations
from service.models import Agent, AuditEvent, Conversation, Team

MEMBERSHIP = ("contact_added", "contact_removed", "contact_moved")


def _owners(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    keys = set(before or {}) | set(after or {})
    return bool(keys & {"agent_id", "team_id"})


def contact_history(session: Session, actor: Actor, contact_id: int) -> dict[str, Any]:
    """Its timeline; an agent sees only the conversations it may open itself.

    :raise NotFound: no such contact, or not visible to the actor.
    """
    contact = get_contact(session, actor, contact_id)
    moves = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.related_id == contact.id, AuditEvent.event.in_(MEMBERSHIP))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )
    cartera_ids = {
        side["cartera_id"]
        for event in moves
        for side in (event.before or {}, event.after or {})
        if side.get("cartera_id") is not None
    }
    changes = (
        [
            event
            for event in session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.resource_type == "cartera",
                    AuditEvent.resource_id.in_(cartera_ids),
                    AuditEvent.event.in_(("created", "updated")),
                )
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
            if _owners(event.before, event.after)
        ]
        if cartera_ids
        else []
    )
    handovers = [
        event
        for event in session.scalars(
            select(AuditEvent).where(AuditEvent.event == "handover").order_by(AuditEvent.id)
        )
        if cartera_ids & set((event.after or {}).get("cartera_ids", []))
    ]
    names: dict[str, dict[Any, str]] = {
        "agent": {row[0]: row[1] for row in session.execute(select(Agent.id, Agent.name))},
        "team": {row[0]: row[1] for row in session.execute(select(Team.id, Team.name))},
    }

    def owner(side: dict[str, Any] | None) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for kind in ("agent", "team"):
            ident = (side or {}).get(f"{kind}_id")
            found[kind] = {"id": ident, "name": names[kind].get(ident)} if ident else None
        return found

    timeline: list[dict[str, Any]] = []
    for event in moves:
        timeline.append(
            {
                "at": event.occurred_at,
                "type": "membership",
                "event": event.event,
                "by": event.actor_name,
                "audit_id": event.id,
                "from": {
                    "cartera_id": (event.before or {}).get("cartera_id"),
                    "cartera": (event.before or {}).get("cartera"),
                },
                "to": {
                    "cartera_id": (event.after or {}).get("cartera_id"),
                    "cartera": (event.after or {}).get("cartera"),
                },
            }
        )
    for event in changes:
        before = event.before if event.event == "updated" else None
        timeline.append(
            {
                "at": event.occurred_at,
                "type": "owner_change",
                "event": event.event,
                "by": event.actor_name,
                "audit_id": event.id,
                "cartera": {"id": event.resource_id, "name": event.resource_name},
                "before": owner(before) if before is not None else None,
                "after": owner(event.after),
            }
        )
    for event in handovers:
        for cartera in (event.details or {}).get("carteras", []):
            if cartera["id"] in cartera_ids:
                timeline.append(
                    {
                        "at": event.occurred_at,
                        "type": "owner_change",
                        "event": "handover",
                        "by": event.actor_name,
                        "audit_id": event.id,
                        "cartera": {"id": cartera["id"], "name": cartera["name"]},
                        "before": owner(
                            {"agent_id": cartera["from_agent_id"], "team_id": cartera["team_id"]}
                        ),
                        "after": owner(
                            {"agent_id": cartera["to_agent_id"], "team_id": cartera["team_id"]}
                        ),
                    }
                )
    # only the conversations the actor may open (GET /api/conversations/<id>'s rule)
    for conversation in session.scalars(
        select(Conversation)
        .where(Conversation.contact_id == contact.id, visible_conversations(actor))
        .order_by(Conversation.opened_at)
    ):
        timeline.append(
            {
                "at": conversation.opened_at,
                "type": "conversation",
                "conversation_id": conversation.id,
                "channel": conversation.channel,
                "cartera": {
                    "id": conversation.cartera_id,
                    "name": conversation.cartera_name,
                    "icon": conversation.cartera_icon,
                }
                if conversation.cartera_name
                else None,
                "agent": {"id": conversation.agent_id, "name": conversation.agent_name}
                if conversation.agent_id
                else None,
                "team": {"id": conversation.team_id, "name": conversation.team_name}
                if conversation.team_id
                else None,
                "routed_to": conversation.routed_to,
                "reason": conversation.reason,
            }
        )
    timeline.sort(key=lambda entry: entry["at"])
    for entry in timeline:
        entry["at"] = entry["at"].isoformat()
    return {
        "contact_id": contact.id,
        "contact_name": contact.name,
        "carteras": sorted(cartera_ids),
        "timeline": timeline,
    }
