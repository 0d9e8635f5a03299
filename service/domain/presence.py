"""Which agents Rocket.Chat shows available, as last seen: kept on the agents so that the
External Service routing answer (asked ten times at once, with no time to call Rocket.Chat
back) names only an agent Rocket.Chat will accept.

Rocket.Chat takes the username we answer only if Users.findOneOnlineAgentByUserList finds it
(livechat agent, active, available, not offline: apps/meteor/app/livechat/server/lib/routing/
External.ts), and fails the room with ``no-agent-online`` when no answer names one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from service.models import Agent


def record(session: Session, available_ids: frozenset[str], now: datetime) -> int:
    """Store what Rocket.Chat says now for every linked agent; the number seen available."""
    seen = 0
    for agent in session.scalars(select(Agent).where(Agent.rocketchat_user_id.is_not(None))):
        agent.rc_available = agent.rocketchat_user_id in available_ids
        agent.rc_presence_at = now
        seen += agent.rc_available
    session.flush()
    return seen


def available_now(now: datetime, max_age: timedelta) -> ColumnElement[bool]:
    """SQL condition: active here, and seen available in Rocket.Chat within *max_age*."""
    return (
        Agent.active.is_(True)
        & Agent.rc_available.is_(True)
        & (Agent.rc_presence_at >= now - max_age)
    )
