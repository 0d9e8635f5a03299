"""Is Rocket.Chat set up the way this service needs? ``rocketchat check`` and ``/readyz?deep=1``.

``collect`` reads the platform through the ChatPlatform port; ``evaluate`` is pure: it takes
what was read plus our teams and agents and returns one Check per requirement, each with the
fix in Spanish and English. Must not import Flask or an adapter.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain.ports import (
    ChatAgent,
    ChatCustomField,
    ChatDepartment,
    ChatPlatform,
    ChatPlatformError,
)
from service.models import Agent, Team

OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"
STATUSES: Final = (OK, WARN, FAIL)
BADGE_FIELD: Final = "cartera"
WEBHOOK_PATH: Final = "/webhooks/rocketchat"
ROUTING_PATH: Final = "/routing/rocketchat"

PERMISSIONS_MENU = "Administración > Permisos (Administration > Permissions)"
ROUTING_MENU = (
    "Administración > Omnichannel > Enrutamiento (Administration > Omnichannel > Routing)"
)
CRM_MENU = (
    "Administración > Omnichannel > Integración CRM "
    "(Administration > Omnichannel > CRM Integration)"
)
RATE_MENU = (
    "Administración > Ajustes generales > Rate Limiter "
    "(Administration > General settings > Rate Limiter)"
)

# permission -> what of ours needs it (default roles: upsertPermissions.ts in Rocket.Chat,
# apps/meteor/app/authorization/server/functions/upsertPermissions.ts).
REQUIRED_PERMISSIONS: Final[dict[str, str]] = {
    "view-l-room": "livechat/room.saveInfo, livechat/room.forward, livechat/custom-fields",
    "transfer-livechat-guest": "livechat/room.forward, livechat/users/agent",
    "save-others-livechat-room-info": "livechat/room.saveInfo on rooms served by agents",
    "view-livechat-manager": "livechat/users/agent/:id (presence), custom field creation",
    "edit-livechat-room-customfields": "the room field 'cartera' in livechat/room.saveInfo",
    "view-livechat-departments": "livechat/department (agents of each department)",
    "view-livechat-rooms": "reading rooms",
}
# Not needed for routing, but without them things degrade (a warning, not a failure).
OPTIONAL_PERMISSIONS: Final[dict[str, tuple[str, str]]] = {
    "api-bypass-rate-limit": (
        "sin él, las llamadas autenticadas cuentan para el límite de la API",
        "without it, authenticated calls count against the API rate limit",
    ),
    "view-privileged-setting": (
        "solo lo usa `rocketchat check` para leer los ajustes",
        "only `rocketchat check` uses it, to read the settings",
    ),
}
# Webhook events (apps/meteor/app/livechat/server/hooks/sendToCRM.ts) the service routes on:
# the chat start opens conversations started in Rocket.Chat, the close closes ours, agent
# messages are relayed to the customer's channel (service/jobs/routing.py).
REQUIRED_EVENTS: Final[dict[str, tuple[str, str]]] = {
    "Livechat_webhook_on_start": (
        "Enviar solicitud al iniciar el chat",
        "Send request on chat start",
    ),
    "Livechat_webhook_on_close": (
        "Enviar solicitud al cerrar el chat",
        "Send request on chat close",
    ),
    "Livechat_webhook_on_agent_message": (
        "Enviar solicitud en mensajes del agente",
        "Send request on agent messages",
    ),
}
# Visitor messages only open a conversation whose start event was lost; chat taken and
# forwarded tell who serves a room now (a team fallback or a transfer taken by a colleague,
# who then sees that customer while it is open): recommended.
RECOMMENDED_EVENTS: Final[dict[str, tuple[str, str]]] = {
    "Livechat_webhook_on_visitor_message": (
        "Enviar solicitud en mensajes del visitante",
        "Send request on visitor messages",
    ),
    "Livechat_webhook_on_chat_taken": (
        "Enviar solicitud cuando un agente toma el chat",
        "Send request on chat taken",
    ),
    "Livechat_webhook_on_forward": (
        "Enviar solicitud al transferir el chat",
        "Send request on forwarding",
    ),
}
SETTINGS: Final = (
    "API_Enable_Rate_Limiter",
    "Livechat_accept_chats_with_no_agents",
    "Livechat_Routing_Method",
    "Livechat_External_Queue_URL",
    "Livechat_External_Queue_Token",
    "Livechat_webhookUrl",
    "Livechat_secret_token",
    *REQUIRED_EVENTS,
    *RECOMMENDED_EVENTS,
)


@dataclass(frozen=True)
class Check:
    status: str  # ok | warn | fail
    key: str
    es: str
    en: str
    fixable: bool = False  # ``rocketchat check --fix`` can do it

    def line(self) -> str:
        mark = {OK: "✓", WARN: "⚠", FAIL: "✗"}[self.status]
        return f"{mark} {self.es} / {self.en}"

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status, "key": self.key, "es": self.es, "en": self.en}


@dataclass(frozen=True)
class Expected:
    """What this service's configuration says Rocket.Chat must point at."""

    public_base_url: str | None
    webhook_token: str | None
    routing_token: str | None

    @classmethod
    def from_config(cls, config: Any) -> Expected:
        """From service.config.Config (PUBLIC_BASE_URL, ROCKETCHAT_WEBHOOK_TOKEN,
        ROCKETCHAT_ROUTING_TOKEN)."""
        return cls(
            config.public_base_url, config.rocketchat_webhook_token, config.rocketchat_routing_token
        )


@dataclass(frozen=True)
class TeamRef:
    id: int
    name: str
    department_id: str | None


@dataclass(frozen=True)
class AgentRef:
    id: int
    name: str
    user_id: str | None
    department_ids: tuple[str, ...]


@dataclass
class PlatformState:
    """What ``collect`` read; ``problems`` holds the reads that failed (key -> reason)."""

    version: str | None = None
    permissions: frozenset[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    custom_fields: list[ChatCustomField] | None = None
    departments: dict[str, ChatDepartment] | None = None
    agent_ids: frozenset[str] | None = None
    users: dict[str, ChatAgent | None] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def load_ours(session: Session) -> tuple[list[TeamRef], list[AgentRef]]:
    """Our teams, and our ACTIVE agents with the departments of their teams."""
    teams = [
        TeamRef(t.id, t.name, t.rocketchat_department_id)
        for t in session.scalars(select(Team).order_by(Team.id))
    ]
    agents = [
        AgentRef(
            a.id,
            a.name,
            a.rocketchat_user_id,
            tuple(t.rocketchat_department_id for t in a.teams if t.rocketchat_department_id),
        )
        for a in session.scalars(
            select(Agent)
            .where(Agent.active.is_(True))
            .options(selectinload(Agent.teams))
            .order_by(Agent.id)
        )
    ]
    return teams, agents


def collect(chat: ChatPlatform, agents: Sequence[AgentRef]) -> PlatformState:
    """Read everything ``evaluate`` needs; a failed read is noted, never raised (the server
    being down is the one read that stops the rest)."""
    state = PlatformState()
    try:
        state.version = chat.server_version()
    except ChatPlatformError as exc:
        state.problems["server"] = str(exc)
        return state
    reads: list[tuple[str, Any]] = [
        ("permissions", lambda: frozenset(chat.bot_permissions())),
        ("settings", lambda: chat.read_settings(list(SETTINGS))),
        ("custom_fields", chat.custom_fields),
        ("departments", lambda: {d.id: d for d in chat.departments()}),
        ("agent_ids", lambda: frozenset(a.id for a in chat.agents())),
    ]
    for name, read in reads:
        try:
            setattr(state, name, read())
        except ChatPlatformError as exc:
            state.problems[name] = str(exc)
    for agent in agents:
        if agent.user_id and agent.user_id not in state.users:
            try:
                state.users[agent.user_id] = chat.user(agent.user_id)
            except ChatPlatformError as exc:
                state.problems[f"user:{agent.user_id}"] = str(exc)
    return state


def _url(base: str | None, path: str) -> str | None:
    return base.rstrip("/") + path if base else None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def _unreadable(key: str, setting: str, menu: str) -> Check:
    return Check(
        WARN,
        key,
        f"No se pudo leer el ajuste {setting} (el bot necesita 'view-privileged-setting'); "
        f"revíselo a mano en {menu}",
        f"Could not read setting {setting} (the bot needs 'view-privileged-setting'); "
        f"check it by hand in {menu}",
    )


def _permission_checks(state: PlatformState) -> list[Check]:
    if state.permissions is None:
        reason = state.problems.get("permissions", "")
        return [
            Check(
                FAIL,
                "permissions",
                f"No se pudieron leer los permisos del bot ({reason}): revise "
                "ROCKETCHAT_USER_ID y ROCKETCHAT_AUTH_TOKEN",
                f"Could not read the bot's permissions ({reason}): check ROCKETCHAT_USER_ID "
                "and ROCKETCHAT_AUTH_TOKEN",
            )
        ]
    checks = []
    for name, used_by in REQUIRED_PERMISSIONS.items():
        if name in state.permissions:
            checks.append(
                Check(OK, f"permission:{name}", f"Permiso '{name}'", f"Permission '{name}'")
            )
        else:
            checks.append(
                Check(
                    FAIL,
                    f"permission:{name}",
                    f"Permiso '{name}' falta al rol del bot ({used_by}) — {PERMISSIONS_MENU}: "
                    f"marque '{name}' para el rol del bot",
                    f"Missing permission '{name}' on the bot's role ({used_by}) — "
                    f"{PERMISSIONS_MENU}: tick '{name}' for the bot's role",
                )
            )
    for name, (why_es, why_en) in OPTIONAL_PERMISSIONS.items():
        if name in state.permissions:
            checks.append(
                Check(OK, f"permission:{name}", f"Permiso '{name}'", f"Permission '{name}'")
            )
        else:
            checks.append(
                Check(
                    WARN,
                    f"permission:{name}",
                    f"Permiso '{name}' falta al rol del bot: {why_es} — {PERMISSIONS_MENU}",
                    f"Permission '{name}' missing on the bot's role: {why_en} — {PERMISSIONS_MENU}",
                )
            )
    return checks


def _rate_limit_check(settings: Mapping[str, Any]) -> Check:
    key = "setting:API_Enable_Rate_Limiter"
    if "API_Enable_Rate_Limiter" not in settings:
        return _unreadable(key, "API_Enable_Rate_Limiter", RATE_MENU)
    if not settings["API_Enable_Rate_Limiter"]:
        return Check(OK, key, "Límite de la API desactivado", "API rate limiter off")
    # visitor.ts and room.ts: 5 calls a minute per client address on livechat/visitor and
    # livechat/room; a new conversation needs 2-3 of those calls.
    return Check(
        WARN,
        key,
        "El límite de la API (API_Enable_Rate_Limiter) está activo: livechat/visitor y "
        "livechat/room aceptan 5 llamadas por minuto por dirección, y cada conversación nueva "
        "usa 2-3: unas 2 conversaciones nuevas por minuto; el resto espera. Desactívelo en "
        f"{RATE_MENU}",
        "The API rate limiter (API_Enable_Rate_Limiter) is on: livechat/visitor and "
        "livechat/room allow 5 calls a minute per client address and each new conversation "
        "needs 2-3 of them: about 2 new conversations a minute; the rest wait. Turn it off in "
        f"{RATE_MENU}",
    )


def _no_agents_check(settings: Mapping[str, Any]) -> Check:
    key = "setting:Livechat_accept_chats_with_no_agents"
    if key.split(":")[1] not in settings:
        return _unreadable(key, "Livechat_accept_chats_with_no_agents", ROUTING_MENU)
    if settings["Livechat_accept_chats_with_no_agents"]:
        return Check(
            OK, key, "Se aceptan chats sin agentes en línea", "Chats accepted with no agents online"
        )
    # lib/QueueManager.ts requestRoom: no-agent-online when nobody is online.
    return Check(
        WARN,
        key,
        "'Aceptar sin agentes en línea' está desactivado: mientras nadie está en línea los "
        "mensajes esperan en este servicio y entran cuando alguien se conecta — "
        f"{ROUTING_MENU}",
        "'Accept with no online agents' is off: while nobody is online messages wait in "
        f"this service and go in when someone connects — {ROUTING_MENU}",
    )


def _routing_checks(settings: Mapping[str, Any], expected: Expected) -> list[Check]:
    if "Livechat_Routing_Method" not in settings:
        return [
            _unreadable("setting:Livechat_Routing_Method", "Livechat_Routing_Method", ROUTING_MENU)
        ]
    method = settings["Livechat_Routing_Method"]
    if method != "External":
        return [
            Check(
                WARN,
                "setting:Livechat_Routing_Method",
                f"Método de enrutamiento '{method}': Rocket.Chat elige un agente y luego este "
                "servicio reenvía el chat al dueño de la cartera; con 'Servicio externo' el dueño "
                f"lo recibe directamente — {ROUTING_MENU}",
                f"Routing method '{method}': Rocket.Chat picks an agent and this service then "
                "forwards the chat to the cartera's owner; with 'External Service' the owner gets "
                f"it first — {ROUTING_MENU}",
            )
        ]
    checks = [
        Check(
            OK,
            "setting:Livechat_Routing_Method",
            "Enrutamiento: Servicio externo",
            "Routing: External Service",
        )
    ]
    want = _url(expected.public_base_url, ROUTING_PATH)
    have = settings.get("Livechat_External_Queue_URL") or ""
    url_ok = have == want if want else have.rstrip("/").endswith(ROUTING_PATH)
    checks.append(
        _unreadable(
            "setting:Livechat_External_Queue_URL", "Livechat_External_Queue_URL", ROUTING_MENU
        )
        if "Livechat_External_Queue_URL" not in settings
        else Check(
            OK,
            "setting:Livechat_External_Queue_URL",
            f"URL del servicio externo {have}",
            f"External service URL {have}",
        )
        if url_ok
        else Check(
            FAIL,
            "setting:Livechat_External_Queue_URL",
            f"La URL del servicio externo es '{have}'; debe ser "
            f"'{want or '<PUBLIC_BASE_URL>' + ROUTING_PATH}' — {ROUTING_MENU}",
            f"The External Service URL is '{have}'; it must be "
            f"'{want or '<PUBLIC_BASE_URL>' + ROUTING_PATH}' — {ROUTING_MENU}",
        )
    )
    token = settings.get("Livechat_External_Queue_Token")
    if "Livechat_External_Queue_Token" not in settings:
        checks.append(
            _unreadable(
                "setting:Livechat_External_Queue_Token",
                "Livechat_External_Queue_Token",
                ROUTING_MENU,
            )
        )
    elif not expected.routing_token:
        checks.append(
            Check(
                FAIL,
                "setting:Livechat_External_Queue_Token",
                "ROCKETCHAT_ROUTING_TOKEN no está configurado en este servicio: póngalo y copie "
                f"el mismo valor en 'Token secreto' de {ROUTING_MENU}",
                "ROCKETCHAT_ROUTING_TOKEN is not set in this service: set it and copy the same "
                f"value into 'Secret Token' in {ROUTING_MENU}",
            )
        )
    elif _same(token, expected.routing_token):
        checks.append(
            Check(
                OK,
                "setting:Livechat_External_Queue_Token",
                "Token del servicio externo",
                "External service token",
            )
        )
    else:
        checks.append(
            Check(
                FAIL,
                "setting:Livechat_External_Queue_Token",
                "El 'Token secreto' del servicio externo no es ROCKETCHAT_ROUTING_TOKEN — "
                f"{ROUTING_MENU}",
                "The External Service 'Secret Token' is not ROCKETCHAT_ROUTING_TOKEN — "
                f"{ROUTING_MENU}",
            )
        )
    return checks


def _webhook_checks(settings: Mapping[str, Any], expected: Expected) -> list[Check]:
    checks = []
    if "Livechat_webhookUrl" not in settings:
        checks.append(_unreadable("setting:Livechat_webhookUrl", "Livechat_webhookUrl", CRM_MENU))
    else:
        want = _url(expected.public_base_url, WEBHOOK_PATH)
        have = settings["Livechat_webhookUrl"] or ""
        url_ok = have == want if want else have.rstrip("/").endswith(WEBHOOK_PATH)
        checks.append(
            Check(
                OK, "setting:Livechat_webhookUrl", f"URL del webhook {have}", f"Webhook URL {have}"
            )
            if url_ok
            else Check(
                FAIL,
                "setting:Livechat_webhookUrl",
                f"La URL del webhook es '{have}'; debe ser "
                f"'{want or '<PUBLIC_BASE_URL>' + WEBHOOK_PATH}' — {CRM_MENU}",
                f"The webhook URL is '{have}'; it must be "
                f"'{want or '<PUBLIC_BASE_URL>' + WEBHOOK_PATH}' — {CRM_MENU}",
            )
        )
    if "Livechat_secret_token" not in settings:
        checks.append(
            _unreadable("setting:Livechat_secret_token", "Livechat_secret_token", CRM_MENU)
        )
    elif not expected.webhook_token:
        checks.append(
            Check(
                FAIL,
                "setting:Livechat_secret_token",
                "ROCKETCHAT_WEBHOOK_TOKEN no está configurado en este servicio: póngalo y copie "
                f"el mismo valor en 'Token secreto' de {CRM_MENU}",
                "ROCKETCHAT_WEBHOOK_TOKEN is not set in this service: set it and copy the same "
                f"value into 'Secret Token' in {CRM_MENU}",
            )
        )
    elif _same(settings["Livechat_secret_token"], expected.webhook_token):
        checks.append(
            Check(OK, "setting:Livechat_secret_token", "Token del webhook", "Webhook token")
        )
    else:
        checks.append(
            Check(
                FAIL,
                "setting:Livechat_secret_token",
                f"El 'Token secreto' del webhook no es ROCKETCHAT_WEBHOOK_TOKEN — {CRM_MENU}",
                f"The webhook 'Secret Token' is not ROCKETCHAT_WEBHOOK_TOKEN — {CRM_MENU}",
            )
        )
    for events, missing in ((REQUIRED_EVENTS, FAIL), (RECOMMENDED_EVENTS, WARN)):
        for setting, (label_es, label_en) in events.items():
            key = f"setting:{setting}"
            if setting not in settings:
                checks.append(_unreadable(key, setting, CRM_MENU))
            elif settings[setting]:
                checks.append(Check(OK, key, f"Webhook: '{label_es}'", f"Webhook: '{label_en}'"))
            else:
                checks.append(
                    Check(
                        missing,
                        key,
                        f"Active '{label_es}' ({setting}) en {CRM_MENU}",
                        f"Turn on '{label_en}' ({setting}) in {CRM_MENU}",
                    )
                )
    return checks


def _custom_field_check(state: PlatformState) -> Check:
    key = f"custom_field:{BADGE_FIELD}"
    if state.custom_fields is None:
        reason = state.problems.get("custom_fields", "")
        return Check(
            FAIL,
            key,
            f"No se pudieron leer los campos personalizados ({reason})",
            f"Could not read the custom fields ({reason})",
        )
    found = next((f for f in state.custom_fields if f.id == BADGE_FIELD), None)
    menu_es = "Administración > Omnichannel > Campos personalizados"
    menu_en = "Administration > Omnichannel > Custom Fields"
    if found is None:
        return Check(
            FAIL,
            key,
            f"Falta el campo personalizado '{BADGE_FIELD}' (alcance Sala, visible): créelo en "
            f"{menu_es} o con `flask --app wsgi rocketchat check --fix`",
            f"Custom field '{BADGE_FIELD}' is missing (scope Room, visible): create it in "
            f"{menu_en} or with `flask --app wsgi rocketchat check --fix`",
            fixable=True,
        )
    if found.scope != "room" or found.visibility != "visible":
        return Check(
            FAIL,
            key,
            f"El campo '{BADGE_FIELD}' tiene alcance '{found.scope}' y visibilidad "
            f"'{found.visibility}'; debe ser Sala y visible — {menu_es}",
            f"Field '{BADGE_FIELD}' has scope '{found.scope}' and visibility "
            f"'{found.visibility}'; it must be Room and visible — {menu_en}",
        )
    return Check(OK, key, f"Campo personalizado '{BADGE_FIELD}'", f"Custom field '{BADGE_FIELD}'")


def _team_checks(state: PlatformState, teams: Sequence[TeamRef]) -> list[Check]:
    if state.departments is None:
        reason = state.problems.get("departments", "")
        return [
            Check(
                FAIL,
                "departments",
                f"No se pudieron leer los departamentos ({reason})",
                f"Could not read the departments ({reason})",
            )
        ]
    checks = []
    for team in teams:
        key = f"team:{team.id}"
        department = state.departments.get(team.department_id or "")
        if not team.department_id:
            checks.append(
                Check(
                    WARN,
                    key,
                    f"El equipo '{team.name}' no tiene departamento de Rocket.Chat: sus chats no "
                    "pueden ir al equipo (`rocketchat sync` o la ficha del equipo)",
                    f"Team '{team.name}' has no Rocket.Chat department: its chats cannot go to "
                    "the team (`rocketchat sync` or the team's page)",
                )
            )
        elif department is None:
            checks.append(
                Check(
                    FAIL,
                    key,
                    f"El departamento '{team.department_id}' del equipo '{team.name}' no existe en "
                    "Rocket.Chat: corrija el equipo o ejecute `rocketchat sync`",
                    f"Department '{team.department_id}' of team '{team.name}' does not exist in "
                    "Rocket.Chat: fix the team or run `rocketchat sync`",
                )
            )
        elif not department.enabled:
            checks.append(
                Check(
                    FAIL,
                    key,
                    f"El departamento '{department.name}' del equipo '{team.name}' está "
                    "desactivado: actívelo en Administración > Omnichannel > Departamentos",
                    f"Department '{department.name}' of team '{team.name}' is disabled: enable "
                    "it in Administration > Omnichannel > Departments",
                )
            )
        else:
            checks.append(
                Check(
                    OK,
                    key,
                    f"Equipo '{team.name}' → departamento '{department.name}'",
                    f"Team '{team.name}' → department '{department.name}'",
                )
            )
    return checks


def _agent_check(state: PlatformState, agent: AgentRef) -> Check:
    key = f"agent:{agent.id}"
    if not agent.user_id:
        return Check(
            WARN,
            key,
            f"El agente '{agent.name}' no tiene usuario de Rocket.Chat: no recibe chats",
            f"Agent '{agent.name}' has no Rocket.Chat user: it gets no chats",
        )
    if f"user:{agent.user_id}" in state.problems:
        reason = state.problems[f"user:{agent.user_id}"]
        return Check(
            FAIL,
            key,
            f"No se pudo leer el usuario de '{agent.name}' ({reason})",
            f"Could not read the user of '{agent.name}' ({reason})",
        )
    user = state.users.get(agent.user_id)
    if user is None:
        return Check(
            FAIL,
            key,
            f"El usuario '{agent.user_id}' del agente '{agent.name}' no existe en Rocket.Chat",
            f"User '{agent.user_id}' of agent '{agent.name}' does not exist in Rocket.Chat",
        )
    if user.active is False:
        return Check(
            FAIL,
            key,
            f"El usuario '{user.username}' ({agent.name}) está desactivado en Rocket.Chat: "
            "actívelo en Administración > Usuarios, o desactive el agente aquí",
            f"User '{user.username}' ({agent.name}) is deactivated in Rocket.Chat: activate it "
            "in Administration > Users, or make the agent inactive here",
        )
    if state.agent_ids is not None and agent.user_id not in state.agent_ids:
        return Check(
            FAIL,
            key,
            f"'{user.username}' ({agent.name}) no es agente de Omnichannel: agréguelo en "
            "Administración > Omnichannel > Agentes",
            f"'{user.username}' ({agent.name}) is not an Omnichannel agent: add it in "
            "Administration > Omnichannel > Agents",
        )
    if state.departments is not None:
        missing = [
            state.departments[d].name
            for d in agent.department_ids
            if d in state.departments and agent.user_id not in state.departments[d].agent_ids
        ]
        if missing:
            names = ", ".join(sorted(missing))
            return Check(
                FAIL,
                key,
                f"'{user.username}' ({agent.name}) no está en el departamento {names} de su "
                "equipo: agréguelo en Administración > Omnichannel > Departamentos",
                f"'{user.username}' ({agent.name}) is not in its team's department {names}: "
                "add it in Administration > Omnichannel > Departments",
            )
    return Check(
        OK,
        key,
        f"Agente '{agent.name}' ({user.username})",
        f"Agent '{agent.name}' ({user.username})",
    )


def evaluate(
    state: PlatformState,
    expected: Expected,
    teams: Sequence[TeamRef],
    agents: Sequence[AgentRef],
) -> list[Check]:
    """One Check per requirement, in the order an admin fixes them."""
    if state.version is None:
        reason = state.problems.get("server", "no answer")
        return [
            Check(
                FAIL,
                "server",
                f"Rocket.Chat no responde ({reason}): revise ROCKETCHAT_URL y la red",
                f"Rocket.Chat does not answer ({reason}): check ROCKETCHAT_URL and the network",
            )
        ]
    checks = [
        Check(
            OK,
            "server",
            f"Rocket.Chat {state.version} responde",
            f"Rocket.Chat {state.version} answers",
        )
    ]
    checks += _permission_checks(state)
    checks.append(_rate_limit_check(state.settings))
    checks.append(_no_agents_check(state.settings))
    checks += _routing_checks(state.settings, expected)
    checks.append(_custom_field_check(state))
    checks += _webhook_checks(state.settings, expected)
    checks += _team_checks(state, teams)
    if state.agent_ids is None:
        reason = state.problems.get("agent_ids", "")
        checks.append(
            Check(
                FAIL,
                "agents",
                f"No se pudo leer la lista de agentes de Omnichannel ({reason})",
                f"Could not read the Omnichannel agent list ({reason})",
            )
        )
    checks += [_agent_check(state, agent) for agent in agents]
    return checks


def not_configured() -> list[Check]:
    return [
        Check(
            FAIL,
            "config",
            "Rocket.Chat no está configurado: ponga ROCKETCHAT_URL, ROCKETCHAT_USER_ID y "
            "ROCKETCHAT_AUTH_TOKEN (el usuario bot del servicio)",
            "Rocket.Chat is not configured: set ROCKETCHAT_URL, ROCKETCHAT_USER_ID and "
            "ROCKETCHAT_AUTH_TOKEN (the service's bot user)",
        )
    ]


def check(session: Session, chat: ChatPlatform, expected: Expected) -> list[Check]:
    """Read Rocket.Chat and our teams and agents, and evaluate. Reads only."""
    if chat.name != "rocketchat":
        return not_configured()
    teams, agents = load_ours(session)
    return evaluate(collect(chat, agents), expected, teams, agents)


def create_badge_field(chat: ChatPlatform) -> None:
    """``--fix``: the room custom field the badge is written to.

    :raise ChatPlatformError: the platform refused.
    """
    chat.save_custom_field(BADGE_FIELD, label="Cartera", scope="room", visibility="visible")


def failed(checks: Sequence[Check]) -> bool:
    return any(c.status == FAIL for c in checks)
