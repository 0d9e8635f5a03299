"""Teams and agents endpoints: /api/teams, /api/agents."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from service.api import live
from service.api.auth import current_actor
from service.api.schemas import (
    AgentArgs,
    AgentIn,
    AgentOut,
    AgentPage,
    AgentPatch,
    HandoverArgs,
    HandoverIn,
    HandoverOut,
    SearchArgs,
    TeamIn,
    TeamOut,
    TeamPage,
    TeamPatch,
)
from service.domain import handover, org
from service.domain.pagination import Page
from service.extensions import db
from service.jobs.enqueue import enqueue_reforwards
from service.models import Agent, Team

bp = Blueprint("org", __name__, url_prefix="/api", description="Teams and agents")


@bp.get("/teams")
@bp.arguments(SearchArgs, location="query", as_kwargs=True)
@bp.response(200, TeamPage)
def list_teams(q: str | None, page: int, per_page: int) -> Page[Team]:
    """List teams (Rocket.Chat departments), by name."""
    return org.list_teams(db.session(), q, page, per_page)


@bp.post("/teams")
@bp.arguments(TeamIn)
@bp.response(201, TeamOut)
def create_team(data: dict[str, Any]) -> Team:
    """Create a team. Names are unique ignoring case."""
    team = org.create_team(db.session(), current_actor(), data)
    db.session.commit()
    return team


@bp.get("/teams/<id:team_id>")
@bp.response(200, TeamOut)
def get_team(team_id: int) -> Team:
    return org.get_team(db.session(), team_id)


@bp.patch("/teams/<id:team_id>")
@bp.arguments(TeamPatch(partial=True))
@bp.response(200, TeamOut)
def update_team(data: dict[str, Any], team_id: int) -> Team:
    team = org.update_team(db.session(), current_actor(), team_id, data)
    db.session.commit()
    return team


@bp.delete("/teams/<id:team_id>")
@bp.response(204)
def delete_team(team_id: int) -> None:
    """Delete a team; refused (409) while carteras belong to it."""
    org.delete_team(db.session(), current_actor(), team_id)
    db.session.commit()


@bp.get("/agents")
@bp.arguments(AgentArgs, location="query", as_kwargs=True)
@bp.response(200, AgentPage)
def list_agents(
    q: str | None, team_id: int | None, active: bool | None, page: int, per_page: int
) -> Page[Agent]:
    """List agents, filtered by text, team and state."""
    return org.list_agents(db.session(), q, team_id, active, page, per_page)


@bp.post("/agents")
@bp.arguments(AgentIn)
@bp.response(201, AgentOut)
def create_agent(data: dict[str, Any]) -> Agent:
    agent = org.create_agent(db.session(), current_actor(), data)
    db.session.commit()
    return agent


@bp.get("/agents/<id:agent_id>")
@bp.response(200, AgentOut)
def get_agent(agent_id: int) -> Agent:
    return org.get_agent(db.session(), agent_id)


@bp.patch("/agents/<id:agent_id>")
@bp.arguments(AgentPatch(partial=True))
@bp.response(200, AgentOut)
def update_agent(data: dict[str, Any], agent_id: int) -> Agent:
    agent = org.update_agent(db.session(), current_actor(), agent_id, data)
    db.session.commit()
    live.recheck_now()  # deactivated or moved between teams: its live rooms follow at once
    return agent


@bp.delete("/agents/<id:agent_id>")
@bp.response(204)
def delete_agent(agent_id: int) -> None:
    """Delete an agent; refused (409) while it owns carteras or has user accounts."""
    org.delete_agent(db.session(), current_actor(), agent_id)
    db.session.commit()


@bp.post("/agents/<id:agent_id>/handover")
@bp.arguments(HandoverIn)
@bp.arguments(HandoverArgs, location="query", as_kwargs=True)
@bp.response(200, HandoverOut)
def handover_agent(data: dict[str, Any], agent_id: int, dry_run: bool) -> handover.HandoverPlan:
    """Move every cartera the agent owns to another agent (or to its team only), in one
    audited ``handover`` event; ``?dry_run=true`` shows what would change."""
    actor = current_actor()
    plan = handover.plan(
        db.session(),
        actor,
        agent_id,
        to_agent_id=data["to_agent_id"],
        deactivate_agent=data["deactivate_agent"],
        open_conversations=data["open_conversations"],
    )
    if dry_run:
        db.session.rollback()
        return plan
    handover.apply(db.session(), actor, plan)
    db.session.commit()
    live.recheck_now()
    enqueue_reforwards(plan.conversation_ids)
    return plan
