"""Teams (Rocket.Chat departments) and agents (Rocket.Chat users): create, change, delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.domain import audit
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.identity import BadAddress, normalize_email
from service.domain.names import clean_name, name_key, optional_text
from service.domain.pagination import Page, paginate
from service.models import Agent, Cartera, Team, User, agent_teams

TEAM_FIELDS = ("name", "rocketchat_department_id")
AGENT_FIELDS = (
    "name",
    "email",
    "rocketchat_user_id",
    "rocketchat_username",
    "active",
    "team_ids",
    "max_open_chats",
)


def team_snapshot(team: Team) -> dict[str, Any]:
    return {"name": team.name, "rocketchat_department_id": team.rocketchat_department_id}


def agent_snapshot(agent: Agent) -> dict[str, Any]:
    return {
        "name": agent.name,
        "email": agent.email,
        "rocketchat_user_id": agent.rocketchat_user_id,
        "rocketchat_username": agent.rocketchat_username,
        "active": agent.active,
        "team_ids": sorted(t.id for t in agent.teams),
        "max_open_chats": agent.max_open_chats,
    }


def get_team(session: Session, team_id: int) -> Team:
    """:raise NotFound: no such team."""
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(
            f"Team {team_id} does not exist.", {"team_id": team_id}, rule="team.not_found"
        )
    return team


def get_agent(session: Session, agent_id: int) -> Agent:
    """:raise NotFound: no such agent."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound(
            f"Agent {agent_id} does not exist.", {"agent_id": agent_id}, rule="agent.not_found"
        )
    return agent


def list_teams(session: Session, q: str | None, page: int, per_page: int) -> Page[Team]:
    stmt = select(Team).order_by(Team.name_key, Team.id)
    if q:
        stmt = stmt.where(Team.name.icontains(q.strip(), autoescape=True))
    return paginate(session, stmt, page, per_page)


def list_agents(
    session: Session,
    q: str | None,
    team_id: int | None,
    active: bool | None,
    page: int,
    per_page: int,
) -> Page[Agent]:
    stmt = select(Agent).order_by(Agent.name, Agent.id)
    if q:
        text = q.strip()
        stmt = stmt.where(
            Agent.name.icontains(text, autoescape=True)
            | Agent.email.icontains(text, autoescape=True)
            | Agent.rocketchat_username.icontains(text, autoescape=True)
        )
    if team_id is not None:
        stmt = stmt.where(
            Agent.id.in_(select(agent_teams.c.agent_id).where(agent_teams.c.team_id == team_id))
        )
    if active is not None:
        stmt = stmt.where(Agent.active.is_(active))
    return paginate(session, stmt, page, per_page)


def _check_unique(
    session: Session, model: Any, column: Any, value: Any, own_id: int | None, field: str
) -> None:
    if value is None:
        return
    with session.no_autoflush:
        found = session.scalar(select(model.id).where(column == value))
    if found is not None and found != own_id:
        raise Conflict(
            f"Another record already has this {field}.",
            {"field": field, "existing_id": found},
            rule=f"{model.__name__.lower()}.{field}_taken",
            value=value,
        )


def _apply_team(session: Session, team: Team, data: Mapping[str, Any]) -> None:
    if "name" in data:
        team.name = clean_name(data["name"])
        team.name_key = name_key(team.name)
        _check_unique(session, Team, Team.name_key, team.name_key, team.id, "name")
    if "rocketchat_department_id" in data:
        team.rocketchat_department_id = optional_text(data["rocketchat_department_id"])
        _check_unique(
            session,
            Team,
            Team.rocketchat_department_id,
            team.rocketchat_department_id,
            team.id,
            "rocketchat_department_id",
        )


def create_team(session: Session, actor: Actor, data: Mapping[str, Any]) -> Team:
    """:raise Conflict: the name (ignoring case) or department id is taken."""
    require_all_carteras(actor)
    team = Team()
    _apply_team(session, team, {"rocketchat_department_id": None, **data})
    session.add(team)
    session.flush()
    audit.record(session, actor, "created", "team", team.id, team.name, after=team_snapshot(team))
    return team


def update_team(session: Session, actor: Actor, team_id: int, data: Mapping[str, Any]) -> Team:
    """:raise NotFound: no such team. :raise Conflict: name or department id taken."""
    require_all_carteras(actor)
    team = get_team(session, team_id)
    before = team_snapshot(team)
    _apply_team(session, team, data)
    audit.record_changes(session, actor, "team", team.id, team.name, before, team_snapshot(team))
    return team


def delete_team(session: Session, actor: Actor, team_id: int) -> None:
    """:raise Conflict: carteras still belong to the team (reassign or delete them first)."""
    require_all_carteras(actor)
    team = get_team(session, team_id)
    owned = list(session.scalars(select(Cartera.id).where(Cartera.team_id == team.id)))
    if owned:
        raise Conflict(
            "The team still owns carteras; reassign them to another team first.",
            {"cartera_ids": owned},
            rule="team.owns_carteras",
            count=len(owned),
        )
    before = team_snapshot(team)
    session.delete(team)
    session.flush()
    audit.record(session, actor, "deleted", "team", team_id, before["name"], before=before)


def _teams(session: Session, team_ids: Iterable[int]) -> list[Team]:
    wanted = sorted(set(team_ids))
    teams = list(session.scalars(select(Team).where(Team.id.in_(wanted)).order_by(Team.id)))
    missing = sorted(set(wanted) - {t.id for t in teams})
    if missing:
        error = Invalid(
            f"team_ids: unknown teams {missing}",
            {"fields": {"team_ids": [f"unknown {missing}"]}},
            rule="team.not_found",
        )
        error.field_rules["team_ids"] = ("team.not_found", {})
        raise error
    return teams


def _apply_agent(session: Session, agent: Agent, data: Mapping[str, Any]) -> None:
    if "name" in data:
        agent.name = clean_name(data["name"])
    if "email" in data:
        raw = optional_text(data["email"])
        try:
            agent.email = normalize_email(raw) if raw else None
        except BadAddress as exc:
            raise Invalid.field("email", str(exc), exc.rule, **exc.params) from None
        _check_unique(session, Agent, Agent.email, agent.email, agent.id, "email")
    for field in ("rocketchat_user_id", "rocketchat_username"):
        if field in data:
            setattr(agent, field, optional_text(data[field]))
            _check_unique(
                session, Agent, getattr(Agent, field), getattr(agent, field), agent.id, field
            )
    if "active" in data:
        agent.active = bool(data["active"])
    if "max_open_chats" in data:
        agent.max_open_chats = data["max_open_chats"]
    if "team_ids" in data:
        agent.teams = _teams(session, data["team_ids"] or [])


def create_agent(session: Session, actor: Actor, data: Mapping[str, Any]) -> Agent:
    """:raise Conflict: email or Rocket.Chat id/username taken. :raise Invalid: unknown team."""
    require_all_carteras(actor)
    agent = Agent(active=True, teams=[])
    _apply_agent(session, agent, data)
    session.add(agent)
    session.flush()
    audit.record(
        session, actor, "created", "agent", agent.id, agent.name, after=agent_snapshot(agent)
    )
    return agent


def end_agent_sessions(session: Session, agent_id: int) -> None:
    """An agent made inactive: its users' sessions end, so reactivating the agent later does
    not revive them (while it is inactive, ``users.actor_for`` already refuses them)."""
    session.execute(
        update(User)
        .where(User.agent_id == agent_id)
        .values(session_version=User.session_version + 1)
    )


def update_agent(session: Session, actor: Actor, agent_id: int, data: Mapping[str, Any]) -> Agent:
    """:raise NotFound: no such agent. :raise Invalid: leaving the team of one of its carteras."""
    require_all_carteras(actor)
    agent = get_agent(session, agent_id)
    before = agent_snapshot(agent)
    _apply_agent(session, agent, data)
    if before["active"] and not agent.active:
        end_agent_sessions(session, agent.id)
    if "team_ids" in data:
        team_ids = {t.id for t in agent.teams}
        stranded = list(
            session.scalars(
                select(Cartera.id).where(
                    Cartera.agent_id == agent.id,
                    Cartera.team_id.is_not(None),
                    Cartera.team_id.not_in(team_ids or {-1}),
                )
            )
        )
        if stranded:
            error = Invalid(
                "team_ids: the agent owns carteras of a team it would leave.",
                {
                    "fields": {"team_ids": ["would leave the team of owned carteras"]},
                    "cartera_ids": stranded,
                },
                rule="agent.would_strand",
                count=len(stranded),
            )
            error.field_rules["team_ids"] = ("agent.would_strand", {"count": len(stranded)})
            raise error
    after = agent_snapshot(agent)
    # A change of ``active`` is its own event (activated/deactivated), as for carteras.
    audit.record_changes(
        session,
        actor,
        "agent",
        agent.id,
        agent.name,
        {k: v for k, v in before.items() if k != "active"},
        {k: v for k, v in after.items() if k != "active"},
    )
    if before["active"] != after["active"]:
        record_agent_state(session, actor, agent)
    return agent


def record_agent_state(session: Session, actor: Actor, agent: Agent) -> None:
    """The ``activated``/``deactivated`` event of an agent whose ``active`` just changed."""
    session.flush()
    audit.record(
        session,
        actor,
        "activated" if agent.active else "deactivated",
        "agent",
        agent.id,
        agent.name,
        before={"active": not agent.active},
        after={"active": agent.active},
    )


def delete_agent(session: Session, actor: Actor, agent_id: int) -> None:
    """:raise Conflict: the agent still owns carteras (reassign them, or deactivate it)."""
    require_all_carteras(actor)
    agent = get_agent(session, agent_id)
    owned = list(session.scalars(select(Cartera.id).where(Cartera.agent_id == agent.id)))
    if owned:
        raise Conflict(
            "The agent still owns carteras; reassign them or set the agent inactive instead.",
            {"cartera_ids": owned},
            rule="agent.owns_carteras",
            count=len(owned),
        )
    users = list(session.scalars(select(User.id).where(User.agent_id == agent.id)))
    if users:
        raise Conflict(
            "The agent has user accounts; set the agent inactive instead of deleting it.",
            {"user_ids": users},
            rule="agent.has_users",
            count=len(users),
        )
    before = agent_snapshot(agent)
    session.delete(agent)
    session.flush()
    audit.record(session, actor, "deleted", "agent", agent_id, before["name"], before=before)
