"""Teams and agents from Rocket.Chat: ``rocketchat sync`` and ``POST /api/rocketchat/sync``.

Departments become teams, livechat agents become agents (department membership -> team
membership). Nothing is deleted; agents gone from Rocket.Chat are made inactive. Every change
goes through service/domain/org.py, so it is audited like a change made by hand. Running it
twice changes nothing the second time. Must not import Flask or an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain import org
from service.domain.access import require_admin
from service.domain.actor import Actor
from service.domain.errors import DomainError, Invalid
from service.domain.identity import BadAddress, normalize_email
from service.domain.names import name_key
from service.domain.ports import ChatAgent, ChatDepartment, ChatPlatform
from service.models import Agent, Team


@dataclass
class SyncReport:
    dry_run: bool
    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    deactivated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "skipped": self.skipped,
        }


def _diff(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def _entry(kind: str, row: Team | Agent, changes: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "id": row.id, "name": row.name, "changes": changes}


def _email(agent: ChatAgent) -> str | None:
    if not agent.email:
        return None
    try:
        return normalize_email(agent.email)
    except BadAddress:
        return None


def _sync_teams(
    session: Session, actor: Actor, departments: list[ChatDepartment], report: SyncReport
) -> dict[str, int]:
    """Department id -> team id, creating or renaming teams as Rocket.Chat has them."""
    teams = list(session.scalars(select(Team)))
    by_department = {t.rocketchat_department_id: t for t in teams if t.rocketchat_department_id}
    by_name = {t.name_key: t for t in teams}
    mapping: dict[str, int] = {}
    for department in departments:
        team = by_department.get(department.id)
        if team is None:
            # A team made by hand with the department's name and no department: link it.
            same_name = by_name.get(name_key(department.name))
            if same_name is not None and not same_name.rocketchat_department_id:
                team = same_name
        wanted = {"name": department.name, "rocketchat_department_id": department.id}
        try:
            with session.begin_nested():
                if team is None:
                    team = org.create_team(session, actor, wanted)
                    report.created.append(_entry("team", team, wanted))
                else:
                    changes = _diff(org.team_snapshot(team), wanted)
                    if changes:
                        org.update_team(session, actor, team.id, changes)
                        report.updated.append(_entry("team", team, changes))
        except DomainError as exc:
            report.skipped.append(
                {
                    "type": "team",
                    "name": department.name,
                    "department_id": department.id,
                    "reason": exc.message,
                }
            )
            continue
        mapping[department.id] = team.id
    return mapping


def _find_agent(session: Session, chat_agent: ChatAgent) -> Agent | None:
    email = _email(chat_agent)
    for column, value in (
        (Agent.rocketchat_user_id, chat_agent.id),
        (Agent.rocketchat_username, chat_agent.username),
        (Agent.email, email),
    ):
        if value:
            found = session.scalar(
                select(Agent).where(column == value).options(selectinload(Agent.teams))
            )
            if found is not None and found.rocketchat_user_id in (None, chat_agent.id):
                return found
    return None


def _sync_agents(
    session: Session,
    actor: Actor,
    chat_agents: list[ChatAgent],
    departments: list[ChatDepartment],
    team_of: dict[str, int],
    report: SyncReport,
) -> None:
    synced_teams = set(team_of.values())
    for chat_agent in chat_agents:
        agent = _find_agent(session, chat_agent)
        from_rc = {
            team_of[d.id] for d in departments if chat_agent.id in d.agent_ids and d.id in team_of
        }
        wanted: dict[str, Any] = {
            "name": chat_agent.name or chat_agent.username,
            "rocketchat_user_id": chat_agent.id,
            "rocketchat_username": chat_agent.username,
        }
        email = _email(chat_agent)
        if email:
            wanted["email"] = email  # never cleared: Rocket.Chat may not show it
        try:
            with session.begin_nested():
                if agent is None:
                    wanted["team_ids"] = sorted(from_rc)
                    agent = org.create_agent(session, actor, wanted)
                    report.created.append(_entry("agent", agent, wanted))
                    continue
                # Teams without a department are ours alone: their membership is kept.
                kept = {t.id for t in agent.teams if t.id not in synced_teams}
                wanted["team_ids"] = sorted(kept | from_rc)
                changes = _diff(org.agent_snapshot(agent), wanted)
                if changes:
                    org.update_agent(session, actor, agent.id, changes)
                    report.updated.append(_entry("agent", agent, changes))
        except DomainError as exc:
            report.skipped.append(
                {
                    "type": "agent",
                    "name": wanted["name"],
                    "rocketchat_user_id": chat_agent.id,
                    "reason": exc.message,
                }
            )
    present = {a.id for a in chat_agents}
    gone = session.scalars(
        select(Agent).where(
            Agent.active.is_(True),
            Agent.rocketchat_user_id.is_not(None),
            Agent.rocketchat_user_id.not_in(present or {""}),
        )
    )
    for agent in list(gone):
        org.update_agent(session, actor, agent.id, {"active": False})
        report.deactivated.append(_entry("agent", agent, {"active": False}))


def sync(
    session: Session, actor: Actor, chat: ChatPlatform, *, dry_run: bool = False
) -> SyncReport:
    """Bring teams and agents in line with Rocket.Chat's departments and livechat agents.

    With *dry_run* the changes are made, reported and rolled back (the caller must not
    commit either way on a dry run).

    :raise Forbidden: the actor is not an admin.
    :raise Invalid: Rocket.Chat is not configured.
    :raise ChatPlatformError: Rocket.Chat could not be read (nothing was changed).
    """
    require_admin(actor)
    if chat.name != "rocketchat":
        # The stand-in knows no agents: "syncing" with it would make every agent inactive.
        raise Invalid(
            "Rocket.Chat is not configured: set ROCKETCHAT_URL, ROCKETCHAT_USER_ID and "
            "ROCKETCHAT_AUTH_TOKEN.",
            {"chat": chat.name},
        )
    departments = chat.departments()
    chat_agents = chat.agents()
    report = SyncReport(dry_run=dry_run)
    outer = session.begin_nested()
    team_of = _sync_teams(session, actor, departments, report)
    _sync_agents(session, actor, chat_agents, departments, team_of, report)
    session.flush()
    if dry_run:
        outer.rollback()
        session.expire_all()
    else:
        outer.commit()
    return report
