"""A fake Rocket.Chat HTTP server that answers as the real one does (7.x, 6.x where it
differs): same paths, auth headers, JSON shapes, refusals, limits and webhooks. Each behaviour
cites the Rocket.Chat file it follows and has a test in tests/integration/test_fake_rocketchat.py.

    with FakeRocketChat() as rc:      # serves on 127.0.0.1:<free port>
        rc.add_agent("u-luis", "luis", online=True)
        rc.add_department("d-ventas", "Ventas", agents=["u-luis"])
        rc.settings["Livechat_accept_chats_with_no_agents"] = True
        ... rc.url, rc.user_id, rc.auth_token ...
        rc.fail("livechat/room.forward", status=500, times=2)

Settings start at the real server's defaults (``DEFAULTS``): the API rate limiter is on and
rooms need an online agent. Errors follow apps/meteor/app/api/server/ApiClass.ts: a plain
``Error`` answers 400 ``{"success": false, "error": code}``; a ``Meteor.Error`` with a reason
answers 400 ``{"error": "<reason> [<code>]", "errorType": code}``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

USER_ID, AUTH_TOKEN = "svc-user", "svc-token"
BOT_USERNAME = "carteras-bot"
# Every permission the service's calls need; tests remove some to see the refusals.
SERVICE_PERMISSIONS = frozenset(
    {
        "view-l-room",
        "transfer-livechat-guest",
        "save-others-livechat-room-info",
        "edit-livechat-room-customfields",
        "view-livechat-manager",
        "view-livechat-departments",
        "view-livechat-rooms",
        "view-other-user-channels",
        "api-bypass-rate-limit",
    }
)
# apps/meteor/server/settings/omnichannel.ts and general.ts (rate limiter): the defaults.
DEFAULTS: dict[str, Any] = {
    "Livechat_enabled": True,
    "Livechat_accept_chats_with_no_agents": False,
    "Livechat_Routing_Method": "Auto_Selection",
    "Livechat_webhookUrl": "",
    "Livechat_secret_token": "",
    "Livechat_webhook_on_start": False,
    "Livechat_webhook_on_close": False,
    "Livechat_webhook_on_forward": False,
    "Livechat_webhook_on_chat_taken": False,
    "Livechat_webhook_on_chat_queued": False,
    "Livechat_webhook_on_visitor_message": False,
    "Livechat_webhook_on_agent_message": False,
    "Livechat_External_Queue_URL": "",
    "Livechat_External_Queue_Token": "",
    "Livechat_http_timeout": 5000,
    "API_Enable_Rate_Limiter": True,
    "API_Enable_Rate_Limiter_Limit_Calls_Default": 10,
    "API_Enable_Rate_Limiter_Limit_Time_Default": 60000,
    "FileUpload_Enabled": True,
    "Livechat_fileupload_enabled": True,
    "FileUpload_MaxFileSize": 104857600,
    "FileUpload_MediaTypeWhiteList": "",
    "FileUpload_MediaTypeBlackList": "image/svg+xml",
    "Message_AllowEditing": True,
}
# Routes with their own rateLimiterOptions (visitor.ts and room.ts): 5 calls a minute.
ROUTE_LIMITS = {"livechat/visitor": (5, 60000), "livechat/room": (5, 60000)}
PUBLIC = ("livechat/visitor", "livechat/room", "livechat/message", "info")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class RCError(Exception):
    """An answer the real server gives for a refused call."""

    def __init__(self, code: str, reason: str | None = None, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.reason, self.status = code, reason, status

    def body(self) -> dict[str, Any]:
        if self.reason is None:
            return {"success": False, "error": self.code}
        return {"success": False, "error": f"{self.reason} [{self.code}]", "errorType": self.code}


class NotLoggedIn(RCError):
    """ApiClass.ts authRequired without valid X-User-Id/X-Auth-Token (with the pre-8.0
    compatibility fields)."""

    def __init__(self) -> None:
        super().__init__("You must be logged in to do this.", status=401)

    def body(self) -> dict[str, Any]:
        return {**super().body(), "status": "error", "message": self.code}


class Refusal(RCError):
    """upload.ts's API.v1.failure({reason}): 400 ``{"reason": code, "success": false}``."""

    def body(self) -> dict[str, Any]:
        return {"reason": self.code, "success": False}


def _unauthorized() -> RCError:
    # ApiClass.ts: permissionsRequired -> Meteor.Error('error-unauthorized', ...) -> 403
    return RCError(
        "error-unauthorized",
        "User does not have the permissions required for this action",
        status=403,
    )


def _type_allowed(mime: str, whitelist: str, blacklist: str) -> bool:
    """lib/restrictions fileUploadIsValidContentTypeFromSettings: the blacklist first, then
    the whitelist ("" or "*" takes all); entries may be ``type/*``."""

    def listed(entries: str) -> bool:
        for entry in (e.strip().lower() for e in entries.split(",") if e.strip()):
            if entry == mime or (entry.endswith("/*") and mime.startswith(entry[:-1])):
                return True
        return False

    if blacklist and listed(blacklist):
        return False
    return not whitelist.strip() or whitelist.strip() == "*" or listed(whitelist)


class FakeRocketChat:
    def __init__(self, *, clock: Callable[[], float] = time.time, **settings: Any) -> None:
        self.user_id, self.auth_token = USER_ID, AUTH_TOKEN
        self.settings: dict[str, Any] = {**DEFAULTS, **settings}
        self.clock = clock
        self.version = "7.4.1"
        self.users: dict[str, dict[str, Any]] = {
            USER_ID: {
                "_id": USER_ID,
                "username": BOT_USERNAME,
                "name": "Carteras",
                "active": True,
                "roles": ["bot", "livechat-manager"],
                "status": "online",
            }
        }
        self.permissions: set[str] = set(SERVICE_PERMISSIONS)
        self.departments: dict[str, dict[str, Any]] = {}
        self.custom_fields: dict[str, dict[str, Any]] = {}
        self.visitors: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.forwards: list[dict[str, Any]] = []
        self.returned: list[dict[str, Any]] = []
        self.webhooks_sent: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.lost_answers: list[dict[str, Any]] = []
        self.hooks: list[dict[str, Any]] = []
        self.down = False
        self.delay = 0.0  # seconds every answer waits (to test timeouts)
        # cleared: every call waits until it is set again (a job held mid-flight for as long
        # as a test needs, however slow the machine; a caller killed meanwhile hears nothing)
        self.open = threading.Event()
        self.open.set()
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.app = self._build()
        self._server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # ---- test controls --------------------------------------------------------------------
    def __enter__(self) -> FakeRocketChat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def agents(self) -> dict[str, dict[str, Any]]:
        return {k: u for k, u in self.users.items() if "livechat-agent" in u["roles"]}

    def add_agent(
        self,
        user_id: str,
        username: str,
        *,
        online: bool = True,
        available: bool | None = None,
        active: bool = True,
        agent: bool = True,
        name: str | None = None,
        email: str | None = None,
    ) -> None:
        """A user; ``agent`` gives it the livechat-agent role, ``online`` its status and
        (unless ``available`` says otherwise) its Omnichannel availability."""
        available = online if available is None else available
        self.users[user_id] = {
            "_id": user_id,
            "username": username,
            "name": name or username,
            "emails": [{"address": email or f"{username}@example.com", "verified": True}],
            "active": active,
            "roles": ["user", "livechat-agent"] if agent else ["user"],
            "status": "online" if online else "offline",
            "statusLivechat": "available" if available else "not-available",
        }

    def set_online(self, user_id: str, online: bool) -> None:
        user = self.users[user_id]
        user["status"] = "online" if online else "offline"
        user["statusLivechat"] = "available" if online else "not-available"

    def delete_user(self, user_id: str) -> None:
        self.users.pop(user_id, None)
        for department in self.departments.values():
            department["agents"].discard(user_id)

    def add_department(
        self,
        dep_id: str,
        name: str,
        *,
        agents: list[str] = (),
        enabled: bool = True,  # type: ignore[assignment]
    ) -> None:
        self.departments[dep_id] = {
            "_id": dep_id,
            "name": name,
            "enabled": enabled,
            "agents": set(agents),
        }

    def add_custom_field(self, field: str, label: str, *, scope: str = "room") -> None:
        self.custom_fields[field] = {
            "_id": field,
            "label": label,
            "scope": scope,
            "visibility": "visible",
        }

    def fail(self, path: str, *, status: int = 500, times: int = 1, error: str = "boom") -> None:
        self.failures.append({"path": path, "status": status, "times": times, "error": error})

    def lose_answer(self, path: str, *, times: int = 1) -> None:
        """The call to *path* is carried out but its answer is lost (a proxy's 504)."""
        self.lost_answers.append({"path": path, "times": times})

    def after(self, path: str, then: Callable[[], None]) -> None:
        """Run *then* once, right after the next call to *path* was carried out."""
        self.hooks.append({"path": path, "then": then})

    def close_room(self, room_id: str) -> None:
        self.rooms[room_id]["open"] = False

    def calls_to(self, path: str) -> list[Any]:
        return [body for _, called, body in self.calls if called == path]

    def room_of(self, token: str) -> dict[str, Any]:
        return next(r for r in self.rooms.values() if r["v"]["token"] == token)

    def messages_in(self, room_id: str) -> list[str]:
        return [m["msg"] for m in self.messages if m["rid"] == room_id]

    # ---- rules of the real server ---------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

    def online_agent(self, user_id: str | None) -> dict[str, Any] | None:
        """Users.findOneOnlineAgentById (packages/models, queryStatusAgentOnline): the
        livechat-agent role, active, available in Omnichannel and not offline."""
        user = self.users.get(user_id or "")
        if (
            user is None
            or "livechat-agent" not in user["roles"]
            or not user["active"]
            or user.get("statusLivechat") != "available"
            or user.get("status") == "offline"
        ):
            return None
        return user

    def _online_in(self, dep_id: str | None) -> list[dict[str, Any]]:
        if dep_id is None:
            candidates = list(self.users)
        else:
            department = self.departments.get(dep_id)
            if department is None or not department["enabled"]:
                return []
            candidates = sorted(department["agents"])
        return [u for u in (self.online_agent(c) for c in candidates) if u is not None]

    def _rate_limited(self, path: str) -> tuple[dict[str, str], RCError | None]:
        """ApiClass.ts enforceRateLimit: one fixed window per (client address, route); the
        bot's api-bypass-rate-limit applies only where the route authenticates (never on the
        visitor routes)."""
        if not self.settings["API_Enable_Rate_Limiter"]:
            return {}, None
        route = "livechat/message/:_id" if path.startswith("livechat/message/") else path
        route = route.split("/users/agent/")[0] if "/users/agent/" in route else route
        authenticated = not path.startswith(PUBLIC) and self._authenticated()
        if authenticated and "api-bypass-rate-limit" in self.permissions:
            return {}, None
        allowed, window = ROUTE_LIMITS.get(
            route,
            (
                self.settings["API_Enable_Rate_Limiter_Limit_Calls_Default"],
                self.settings["API_Enable_Rate_Limiter_Limit_Time_Default"],
            ),
        )
        now_ms = self.clock() * 1000
        key = (request.headers.get("X-Real-Ip") or request.remote_addr or "", route)
        bucket = self._buckets.get(key)
        if bucket is None or now_ms >= bucket[0]:
            bucket = self._buckets[key] = [now_ms + window, 0]
        bucket[1] += 1  # counted before the check, as Meteor's RateLimiter does
        headers = {
            "X-RateLimit-Limit": str(allowed),
            "X-RateLimit-Remaining": str(max(allowed - bucket[1], 0)),
            "X-RateLimit-Reset": str(int(bucket[0])),  # epoch milliseconds
        }
        if bucket[1] > allowed:
            wait = math.ceil((bucket[0] - now_ms) / 1000)
            return headers, RCError(
                "error-too-many-requests",
                "Error, too many requests. Please slow down. You must wait "
                f"{wait} seconds before trying this endpoint again.",
                status=429,
            )
        return headers, None

    def _authenticated(self) -> bool:
        return (
            request.headers.get("X-User-Id") == USER_ID
            and request.headers.get("X-Auth-Token") == AUTH_TOKEN
        )

    def _need(self, *permissions: str) -> None:
        if not self._authenticated():
            raise NotLoggedIn()
        if not set(permissions) <= self.permissions:
            raise _unauthorized()

    def _send_webhook(self, event: dict[str, Any], setting: str) -> None:
        """sendToCRM.ts: POST to Livechat_webhookUrl with X-RocketChat-Livechat-Token; the
        first attempt is awaited by the caller (livechat.newRoom runs before the answer)."""
        url = self.settings["Livechat_webhookUrl"]
        if not url or not self.settings.get(setting):
            return
        self.webhooks_sent.append(event)
        # sendRequest catches a failure and schedules a retry: the room still opens.
        with contextlib.suppress(requests.RequestException):
            requests.post(
                url,
                json=event,
                headers={"X-RocketChat-Livechat-Token": self.settings["Livechat_secret_token"]},
                timeout=self.settings["Livechat_http_timeout"] / 1000,
            )

    # ---- the server -----------------------------------------------------------------------
    def _build(self) -> Flask:
        app = Flask("fake_rocketchat")
        app.before_request(self._gate)
        app.after_request(self._headers)
        routes: list[tuple[str, Callable[..., Any], str]] = [
            ("info", self._info, "GET"),
            ("livechat/visitor", self._visitor, "POST"),
            ("livechat/room", self._room, "GET"),
            ("livechat/message", self._message, "POST"),
            ("livechat/message/<msg_id>", self._get_message, "GET"),
            ("livechat/room.saveInfo", self._save_info, "POST"),
            ("livechat/room.forward", self._forward, "POST"),
            ("livechat/inquiries.returnAsInquiry", self._return_as_inquiry, "POST"),
            ("livechat/users/agent/<user_id>", self._agent, "GET"),
            ("rooms.info", self._rooms_info, "GET"),
            ("livechat/upload/<rid>", self._upload, "POST"),
            # set-up check and sync (service/domain/rc_setup.py, rc_sync.py)
            ("me", self._me, "GET"),
            ("permissions.listAll", self._permissions_list_all, "GET"),
            ("settings/<setting_id>", self._setting, "GET"),
            ("settings.public", self._settings_public, "GET"),
            ("livechat/custom-fields", self._custom_fields_list, "GET"),
            ("livechat/custom-fields.save", self._custom_fields_save, "POST"),
            ("method.call/<method>", self._method_call, "POST"),
            ("livechat/department", self._departments_list, "GET"),
            ("livechat/department/<dep_id>", self._department, "GET"),
            ("livechat/users/agent", self._agents_list, "GET"),
            ("users.info", self._users_info, "GET"),
        ]
        for path, view, method in routes:
            app.add_url_rule(
                f"/api/v1/{path}", endpoint=path, view_func=self._wrap(view), methods=[method]
            )
        self._default_api(app)
        self._media_api(app)  # files and notices (issue 17)
        return app

    def _wrap(self, view: Callable[..., Any]) -> Callable[..., Any]:
        def run(**kwargs: Any) -> Any:
            path = request.path.removeprefix("/api/v1/")
            try:
                with self._lock:
                    answer = view(**kwargs)
            except RCError as exc:
                return jsonify(exc.body()), exc.status
            for hook in [h for h in self.hooks if path.startswith(h["path"])]:
                self.hooks.remove(hook)
                hook["then"]()
            for lost in self.lost_answers:
                if path.startswith(lost["path"]) and lost["times"] > 0:
                    lost["times"] -= 1  # done, but the caller never hears it
                    return "<html>504 Gateway Time-out</html>", 504
            return jsonify({**answer, "success": True})

        run.__name__ = view.__name__
        return run

    def _gate(self) -> Any:
        path = request.path.removeprefix("/api/v1/")
        body = request.get_json(silent=True) if request.method == "POST" else dict(request.args)
        with self._lock:
            self.calls.append((request.method, path, body))
        if self.delay:
            time.sleep(self.delay)
        self.open.wait(120)
        if self.down:
            return "<html>502 Bad Gateway</html>", 502
        for failure in self.failures:
            if path.startswith(failure["path"]) and failure["times"] > 0:
                failure["times"] -= 1
                return _error(failure["status"], failure["error"])
        with self._lock:
            headers, refused = self._rate_limited(path)
        request.environ["fake.ratelimit"] = headers
        if refused is not None:
            return jsonify(refused.body()), refused.status, headers
        return None

    def _headers(self, response: Any) -> Any:
        for key, value in request.environ.get("fake.ratelimit", {}).items():
            response.headers[key] = value
        return response

    def _info(self) -> dict[str, Any]:
        return {"info": {"version": self.version}}

    def _visitor(self) -> dict[str, Any]:
        """livechat/visitor (api/v1/visitor.ts -> lib/Visitors.ts registerGuest)."""
        data = (request.get_json(silent=True) or {}).get("visitor")
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise RCError("Match.Error", "Match error: Missing key 'token' in field visitor")
        token = data["token"]
        if not token.strip():
            raise RCError("error-invalid-token", "Token cannot be empty")
        found_dep = self._find_department(data.get("department"))
        phone = data.get("phone")
        existing = self.visitors.get(token)
        if existing is None and phone:
            # Found by phone: that visitor is updated and KEEPS its old token.
            existing = next(
                (v for v in self.visitors.values() if phone in _phones(v)),
                None,
            )
        if existing is None:
            existing = {
                "_id": self._new_id("vis"),
                "token": token,
                "username": f"guest-{len(self.visitors) + 1}",
                "status": "online",
            }
            self.visitors[token] = existing
        if "name" in data:
            existing["name"] = data["name"]
        if phone:
            existing["phone"] = [{"phoneNumber": phone}]
        if data.get("email"):
            existing["visitorEmails"] = [{"address": str(data["email"]).lower()}]
        if found_dep is not None:
            existing["department"] = found_dep["_id"]  # kept until another is sent
        for room in self.rooms.values():
            if room["v"]["token"] == existing["token"] and room["open"]:
                room["fname"] = existing.get("name")
        return {"visitor": dict(existing)}

    def _find_department(self, wanted: str | None) -> dict[str, Any] | None:
        """By id or name, as LivechatDepartment.findOneByIdOrName (lib/Visitors.ts)."""
        if not wanted:
            return None
        found = next(
            (d for d in self.departments.values() if wanted in (d["_id"], d["name"])), None
        )
        if found is None:
            raise RCError("error-invalid-department", "The provided department is invalid")
        return found

    def _room(self) -> dict[str, Any]:
        """livechat/room (api/v1/room.ts; lib/QueueManager.ts requestRoom)."""
        token, rid = request.args.get("token"), request.args.get("rid")
        if token is None:
            raise RCError("Match.Error", "Match error: Missing key 'token'")
        unknown = set(request.args) - {"token", "rid", "agentId"}
        if unknown:
            raise RCError("Match.Error", f"Match error: Unknown key in field {sorted(unknown)[0]}")
        visitor = self.visitors.get(token)
        if visitor is None:
            raise RCError("invalid-token")
        if rid:
            found = self.rooms.get(rid)
            if found is None or not found["open"] or found["v"]["token"] != token:
                raise RCError("invalid-room")
            return {"room": found, "newRoom": False}
        # without rid: the visitor's open room, if any (findOneOpenByVisitorToken in
        # apps/meteor/app/livechat/server/api/v1/room.ts): asking again opens nothing new
        for found in self.rooms.values():
            if found["v"]["token"] == token and found["open"]:
                return {"room": found, "newRoom": False}
        return {"room": self._create_room(visitor, request.args.get("agentId")), "newRoom": True}

    def _create_room(self, visitor: dict[str, Any], agent_id: str | None) -> dict[str, Any]:
        department = visitor.get("department")
        agent = self.online_agent(agent_id)
        if not self.settings["Livechat_accept_chats_with_no_agents"]:
            nobody = (
                not self._online_in(department)
                if department
                else (agent_id is None and not self._online_in(None))
            )
            if nobody:
                raise RCError("no-agent-online", "Sorry, no online agents")
        if department is None and agent is None:
            # lib/rooms.ts createRoom -> getRequiredDepartment: a visitor without department
            # and no agent asked for gets the first enabled department with an agent online.
            department = next(
                (
                    d["_id"]
                    for d in sorted(self.departments.values(), key=lambda d: d["name"])
                    if self._online_in(d["_id"])
                ),
                None,
            )
        if agent is None and self.settings["Livechat_Routing_Method"] != "Manual_Selection":
            candidates = self._online_in(department)
            agent = min(candidates, key=self._load, default=None) if candidates else None
        room_id = self._new_id("room")
        room = {
            "_id": room_id,
            "t": "l",
            "open": True,
            "fname": visitor.get("name"),
            "v": {
                "_id": visitor["_id"],
                "token": visitor["token"],
                "username": visitor["username"],
            },
            "tags": [],
            "livechatData": {},
            "departmentId": department,
            "servedBy": _served(agent),
        }
        self.rooms[room_id] = room
        # lib/QueueManager.ts: callbacks.run('livechat.newRoom') is awaited before the answer.
        self._send_webhook(
            {
                "type": "LivechatSessionStart",
                "_id": room_id,
                "label": visitor.get("name"),
                "departmentId": department,
                "visitor": {
                    "_id": visitor["_id"],
                    "token": visitor["token"],
                    "name": visitor.get("name"),
                    "username": visitor["username"],
                    "department": department,
                    "phone": visitor.get("phone"),
                    "email": visitor.get("visitorEmails"),
                },
                "agent": room["servedBy"],
                "messages": [],
            },
            "Livechat_webhook_on_start",
        )
        return room

    def _load(self, agent: dict[str, Any]) -> int:
        return sum(
            1
            for r in self.rooms.values()
            if r["open"] and (r["servedBy"] or {}).get("_id") == agent["_id"]
        )

    def _message(self) -> dict[str, Any]:
        """livechat/message (api/v1/message.ts; lib/server/functions/sendMessage.ts)."""
        data = request.get_json(silent=True) or {}
        for key in ("token", "rid", "msg"):
            if not isinstance(data.get(key), str):
                raise RCError("invalid-params", f"must have required property '{key}'")
        extra = set(data) - {"token", "rid", "msg", "_id", "agent"}
        if extra:
            raise RCError("invalid-params", "must NOT have additional properties")
        if data["token"] not in self.visitors:
            raise RCError("invalid-token")
        found = self.rooms.get(data["rid"])
        if found is None or found["v"]["token"] != data["token"]:
            raise RCError("invalid-room")
        if not found["open"]:
            raise RCError("room-closed")
        message_id = data.get("_id") or self._new_id("msg")
        if any(m["_id"] == message_id for m in self.messages):
            # sendMessage returns nothing for an existing _id; Object.assign(undefined) throws.
            raise RCError("Cannot convert undefined or null to object")
        message = {
            "_id": message_id,
            "rid": found["_id"],
            "msg": data["msg"],
            "token": data["token"],
            "ts": time.time(),
        }
        self.messages.append(message)
        return {"message": message}

    def _get_message(self, msg_id: str) -> dict[str, Any]:
        token, rid = request.args.get("token"), request.args.get("rid")
        if not token or not rid:
            raise RCError("invalid-params", "must have required property 'token'")
        if token not in self.visitors:
            raise RCError("invalid-token")
        room = self.rooms.get(rid)
        if room is None or room["v"]["token"] != token:
            raise RCError("invalid-room")
        found = next((m for m in self.messages if m["_id"] == msg_id and m["rid"] == rid), None)
        if found is None:
            raise RCError("invalid-message")
        return {"message": found}

    def _save_info(self) -> dict[str, Any]:
        """livechat/room.saveInfo (api/v1/room.ts; lib/LivechatTyped saveRoomInfo)."""
        self._need("view-l-room")
        data = request.get_json(silent=True) or {}
        room_data, guest_data = data.get("roomData"), data.get("guestData")
        if not isinstance(room_data, dict) or not isinstance(guest_data, dict):
            raise RCError("invalid-params", "must have required property 'roomData'")
        found = self.rooms.get(room_data.get("_id", ""))
        if found is None:
            raise RCError("error-invalid-room")
        if (found["servedBy"] or {}).get("_id") != USER_ID and (
            "save-others-livechat-room-info" not in self.permissions
        ):
            raise _unauthorized()
        # Tags are REPLACED (an absent list unsets them); only defined room custom fields stay.
        found["tags"] = list(room_data.get("tags") or [])
        if "topic" in room_data:
            found["topic"] = room_data["topic"]
        for key, value in (room_data.get("livechatData") or {}).items():
            field = self.custom_fields.get(key)
            if field and field.get("scope") == "room":
                found["livechatData"][key] = value
        if "name" in guest_data and found["v"]["token"] in self.visitors:
            self.visitors[found["v"]["token"]]["name"] = guest_data["name"]
            found["fname"] = guest_data["name"]
        return {}

    def _forward(self) -> dict[str, Any]:
        """livechat/room.forward (api/v1/room.ts; lib/transfer.ts; lib/Helper.ts)."""
        self._need("view-l-room", "transfer-livechat-guest")
        data = request.get_json(silent=True) or {}
        if not isinstance(data.get("roomId"), str):
            raise RCError("invalid-params", "must have required property 'roomId'")
        found = self.rooms.get(data["roomId"])
        if found is None:
            raise RCError("error-invalid-room")
        if not found["open"]:
            raise RCError("This_conversation_is_already_closed")
        if data.get("departmentId"):
            target = self.departments.get(data["departmentId"])
            if target is None:
                raise RCError("error-invalid-department")
            if found.get("departmentId") == target["_id"]:
                raise RCError("error-forwarding-chat-same-department")
            online = self._online_in(target["_id"])
            found["departmentId"] = target["_id"]
            found["servedBy"] = _served(min(online, key=self._load)) if online else None
        elif data.get("userId"):
            agent = self.online_agent(data["userId"])
            if agent is None:
                raise RCError("error-user-is-offline")
            if (found.get("servedBy") or {}).get("_id") == agent["_id"]:
                raise RCError("error-selected-agent-room-agent-are-same")
            found["servedBy"] = _served(agent)
        else:
            raise RCError("error-forwarding-chat")
        self.forwards.append(data)
        return {}

    def _return_as_inquiry(self) -> dict[str, Any]:
        """livechat/inquiries.returnAsInquiry (imports/server/rest/inquiries.ts; rooms.ts)."""
        self._need("view-l-room")
        data = request.get_json(silent=True) or {}
        found = self.rooms.get(str(data.get("roomId") or ""))
        if found is None:
            raise RCError("error-room-not-found")
        if not found["open"]:
            raise RCError("room-closed")
        if not found["servedBy"]:
            return {"result": False}
        if data.get("departmentId"):
            found["departmentId"] = data["departmentId"]
        found["servedBy"] = None
        self.returned.append(data)
        return {"result": True}

    def _agent(self, user_id: str) -> dict[str, Any]:
        """livechat/users/agent/:_id (imports/server/rest/users.ts): the agent's public fields
        (no ``active``), ``null`` for a user who is not an agent, 400 for no such user."""
        self._need("view-livechat-manager")
        user = self.users.get(user_id)
        if user is None:
            raise RCError("User not found")
        if "livechat-agent" not in user["roles"]:
            return {"user": None}
        fields = ("_id", "username", "name", "status", "statusLivechat", "emails")
        return {"user": {k: user[k] for k in fields if k in user}}

    def _upload(self, rid: str) -> dict[str, Any]:
        """livechat/upload/:rid (imports/server/rest/upload.ts), its checks in its order."""
        token = request.headers.get("x-visitor-token")
        if not token:
            raise RCError("unauthorized", status=403)
        if not (
            self.settings["FileUpload_Enabled"] and self.settings["Livechat_fileupload_enabled"]
        ):
            raise Refusal("error-file-upload-disabled")
        room = self.rooms.get(rid)
        if token not in self.visitors or room is None or not room["open"]:
            raise RCError("unauthorized", status=403)
        if room["v"]["token"] != token:
            raise RCError("unauthorized", status=403)
        uploaded = request.files.get("file")
        if uploaded is None or len(request.files) != 1:
            raise RCError("No file uploaded", "No file uploaded")
        data = uploaded.read()
        limit = self.settings["FileUpload_MaxFileSize"]
        if limit > -1 and len(data) > limit:
            raise RCError("error-file-too-large", "error-file-too-large")
        mime = (uploaded.mimetype or "application/octet-stream").lower()
        if not _type_allowed(
            mime,
            self.settings["FileUpload_MediaTypeWhiteList"],
            self.settings["FileUpload_MediaTypeBlackList"],
        ):
            raise Refusal("error-type-not-allowed")
        file_id = self._new_id("file")
        message = {
            "_id": self._new_id("msg"),
            "rid": rid,
            "msg": request.form.get("description") or "",
            "token": token,
            "ts": time.time(),
            "file": {"_id": file_id, "name": uploaded.filename, "type": mime, "size": len(data)},
            "data": data,
        }
        self.messages.append(message)
        return {k: v for k, v in message.items() if k != "data"}

    def files_in(self, room_id: str) -> list[tuple[str, str, bytes]]:
        """(name, type, bytes) of every file uploaded to the room, in order."""
        return [
            (m["file"]["name"], m["file"]["type"], m["data"])
            for m in self.messages
            if m["rid"] == room_id and "file" in m
        ]

    def _rooms_info(self) -> dict[str, Any]:
        if not self._authenticated():
            raise NotLoggedIn()
        found = self.rooms.get(request.args.get("roomId", ""))
        if found is None:
            raise RCError("error-not-allowed", "Not allowed")
        if "view-l-room" not in self.permissions:
            raise RCError("error-not-allowed", "Not allowed")
        return {"room": found}

    # ---- set-up check and sync ------------------------------------------------------------
    def _default_api(self, app: Flask) -> None:
        """GET /api/info (API.default, apps/meteor/app/api/server/default/info.ts): without
        get-server-info only the major.minor version."""

        def info() -> Any:
            if "get-server-info" in self.permissions and self._authenticated():
                return jsonify({"info": {"version": self.version}, "success": True})
            short = ".".join(self.version.split(".")[:2])
            return jsonify({"version": short, "success": True})

        app.add_url_rule("/api/info", endpoint="default-info", view_func=info, methods=["GET"])

    def _page(self, items: list[Any], key: str) -> dict[str, Any]:
        """getPaginationItems.ts: offset (0), count (default 50, at most 100)."""
        offset = int(request.args.get("offset") or 0)
        count = min(int(request.args.get("count") or 50), 100) or 50
        page = items[offset : offset + count]
        return {key: page, "count": len(page), "offset": offset, "total": len(items)}

    def _me(self) -> dict[str, Any]:
        """GET me (api/server/v1/misc.ts): the caller's own user, roles included."""
        if not self._authenticated():
            raise NotLoggedIn()
        return dict(self.users[USER_ID])

    def _permissions_list_all(self) -> dict[str, Any]:
        """GET permissions.listAll (api/server/v1/permissions.ts): every permission with its
        roles. The fake's ``permissions`` are the bot's: those list the bot's roles."""
        if not self._authenticated():
            raise NotLoggedIn()
        known = SERVICE_PERMISSIONS | {"view-privileged-setting", "get-server-info"}
        roles = self.users[USER_ID]["roles"]
        update = [
            {"_id": p, "roles": ["admin", *(roles if p in self.permissions else [])]}
            for p in sorted(known | self.permissions)
        ]
        return {"update": update, "remove": []}

    def _setting(self, setting_id: str) -> dict[str, Any]:
        """GET settings/:_id (api/server/v1/settings.ts): view-privileged-setting, else 403;
        unknown -> 400 ``{"success": false}`` (API.v1.failure() without a message)."""
        self._need("view-privileged-setting")
        if setting_id not in self.settings:
            raise _BareFailure()
        return {"_id": setting_id, "value": self.settings[setting_id]}

    def _settings_public(self) -> dict[str, Any]:
        """GET settings.public?_id=a,b (settings.ts): only settings with public: true
        (omnichannel.ts: Livechat_Routing_Method)."""
        wanted = [i.strip() for i in (request.args.get("_id") or "").split(",") if i.strip()]
        items = [
            {"_id": k, "value": v}
            for k, v in sorted(self.settings.items())
            if k in PUBLIC_SETTINGS and (not wanted or k in wanted)
        ]
        return self._page(items, "settings")

    def _custom_fields_list(self) -> dict[str, Any]:
        """GET livechat/custom-fields (livechat/server/api/v1/customField.ts, view-l-room)."""
        self._need("view-l-room")
        return self._page([dict(f) for f in self.custom_fields.values()], "customFields")

    def _save_field(self, data: dict[str, Any]) -> dict[str, Any]:
        field = {
            "_id": data["field"],
            "label": data["label"],
            "scope": data["scope"],
            "visibility": data["visibility"],
            "regexp": data.get("regexp", ""),
        }
        self.custom_fields[data["field"]] = field
        return field

    def _custom_fields_save(self) -> dict[str, Any]:
        """POST livechat/custom-fields.save (customField.ts, added in 7.11.0;
        view-livechat-manager): a new field whose id exists -> 400."""
        if tuple(int(x) for x in self.version.split(".")[:2]) < (7, 11):
            raise RCError("API endpoint not found", status=404)
        self._need("view-livechat-manager")
        body = request.get_json(silent=True) or {}
        data = body.get("customFieldData") or {}
        if not body.get("customFieldId") and data.get("field") in self.custom_fields:
            raise RCError("Custom Field already exists")
        return {"customField": self._save_field(data)}

    def _method_call(self, method: str) -> dict[str, Any]:
        """POST method.call/:method (misc.ts): the answer is an EJSON string in "message";
        a method's error comes back in it with success true (7.x). Only
        livechat:saveCustomField (livechat/server/methods/saveCustomField.ts)."""
        if not self._authenticated():
            raise NotLoggedIn()
        call = json.loads((request.get_json(silent=True) or {}).get("message") or "{}")
        result: dict[str, Any] = {"msg": "result", "id": call.get("id")}
        if method != "livechat:saveCustomField":
            result["error"] = {"error": 404, "reason": f"Method '{method}' not found"}
        elif "view-livechat-manager" not in self.permissions:
            result["error"] = {"error": "error-not-allowed", "reason": "Not allowed"}
        else:
            _, data = call["params"]
            result["result"] = self._save_field(data)
        return {"message": json.dumps(result)}

    def _departments_list(self) -> dict[str, Any]:
        """GET livechat/department (imports/server/rest/departments.ts, api/lib/departments.ts
        findDepartments): hasAny view-livechat-departments / view-l-room; sorted by name."""
        if not self._authenticated():
            raise NotLoggedIn()
        if not {"view-livechat-departments", "view-l-room"} & self.permissions:
            raise _unauthorized()
        items = [
            {k: v for k, v in d.items() if k != "agents"} | {"numAgents": len(d["agents"])}
            for d in sorted(self.departments.values(), key=lambda d: d["name"])
        ]
        return self._page(items, "departments")

    def _department(self, dep_id: str) -> dict[str, Any]:
        """GET livechat/department/:_id?includeAgents=true (departments.ts findDepartmentById):
        ``{"department": null}`` when unknown; agents only with view-livechat-departments."""
        if not self._authenticated():
            raise NotLoggedIn()
        if not {"view-livechat-departments", "view-l-room"} & self.permissions:
            raise _unauthorized()
        found = self.departments.get(dep_id)
        answer: dict[str, Any] = {
            "department": {k: v for k, v in found.items() if k != "agents"} if found else None
        }
        if (
            request.args.get("includeAgents") == "true"
            and "view-livechat-departments" in self.permissions
        ):
            answer["agents"] = [
                {
                    "_id": f"{dep_id}-{agent_id}",
                    "agentId": agent_id,
                    "departmentId": dep_id,
                    "departmentEnabled": bool(found and found["enabled"]),
                    "username": self.users.get(agent_id, {}).get("username"),
                    "count": 0,
                    "order": 0,
                }
                for agent_id in sorted(found["agents"] if found else ())
            ]
        return answer

    def _agents_list(self) -> dict[str, Any]:
        """GET livechat/users/agent (imports/server/rest/users.ts; api/lib/users.ts
        findAgents): every livechat-agent user (no ``active``), sorted by name; needs
        transfer-livechat-guest or edit-omnichannel-contact, else 403 "unauthorized"."""
        if not self._authenticated():
            raise NotLoggedIn()
        if not {"transfer-livechat-guest", "edit-omnichannel-contact"} & self.permissions:
            raise RCError("unauthorized", status=403)
        fields = ("_id", "username", "name", "status", "statusLivechat", "emails", "livechat")
        deps = self.departments.items()
        member = {u: sorted(d for d, o in deps if u in o["agents"]) for u in self.users}
        agents = sorted(self.agents.values(), key=lambda u: u["name"])
        if request.args.get("onlyAvailable") == "true":
            agents = [u for u in agents if u.get("statusLivechat") == "available"]
        if request.args.get("showIdleAgents") == "false":
            agents = [u for u in agents if u.get("status") != "offline"]
        items = [
            {k: u[k] for k in fields if k in u} | {"departments": member[u["_id"]]} for u in agents
        ]
        return self._page(items, "users")

    def _users_info(self) -> dict[str, Any]:
        """GET users.info?userId= (api/server/v1/users.ts): 400 "User not found."; roles only
        for oneself (getFullUserData.ts)."""
        if not self._authenticated():
            raise NotLoggedIn()
        user = self.users.get(request.args.get("userId") or "")
        if user is None:
            raise RCError("User not found.")
        shown = ("_id", "username", "name", "status", "active", "statusLivechat")
        return {"user": {k: user[k] for k in shown if k in user}}

    # ---- files and the bot's notices (issue 17) ---------------------------------------------
    # apps/meteor/server/settings/file-upload.ts: the defaults of the file access settings.
    FILE_DEFAULTS: dict[str, Any] = {  # noqa: RUF012
        "FileUpload_ProtectFiles": True,
        "FileUpload_Restrict_to_room_members": True,
        "FileUpload_Restrict_to_users_who_can_access_room": False,
        "Message_MaxAllowedSize": 5000,
    }

    def _file_setting(self, key: str) -> Any:
        return self.settings.get(key, self.FILE_DEFAULTS[key])

    def add_file(
        self, room_id: str, name: str, content_type: str, data: bytes, *, user_id: str = "u-marta"
    ) -> str:
        """An agent's upload to *room_id*; returns its path (``title_link``)."""
        file_id = self._new_id("file")
        self.files[file_id] = {
            "_id": file_id,
            "rid": room_id,
            "name": name,
            "type": content_type,
            "size": len(data),
            "userId": user_id,
            "data": data,
        }
        return f"/file-upload/{file_id}/{name}"

    def subscribe(self, room_id: str, user_id: str) -> None:
        self.subscriptions.add((room_id, user_id))

    def _can_access_room(self, room: dict[str, Any] | None, user_id: str) -> bool:
        """canAccessRoom for a livechat room (roomAccessValidator.compatibility.ts): the
        view-livechat-rooms permission, or serving the room."""
        if room is None:
            return False
        if user_id == USER_ID and "view-livechat-rooms" in self.permissions:
            return True
        return (room.get("servedBy") or {}).get("_id") == user_id

    def _file_user(self) -> str | None:
        """requestCanAccessFiles: rc_uid/rc_token from the query (or cookies), else the
        X-User-Id/X-Auth-Token headers; only the service's user has a login token here."""
        uid = request.args.get("rc_uid") or request.cookies.get("rc_uid")
        token = request.args.get("rc_token") or request.cookies.get("rc_token")
        uid = uid or request.headers.get("X-User-Id")
        token = token or request.headers.get("X-Auth-Token")
        return USER_ID if (uid, token) == (USER_ID, AUTH_TOKEN) else None

    def _file_download(self, file_id: str, name: str) -> Any:
        """GET /file-upload/:id/:name (FileUpload.ts, Uploads onRead + requestCanAccessFiles):
        403 with no body when refused; the bytes with the stored type otherwise."""
        found = self.files.get(file_id)
        self.file_downloads.append({"file_id": file_id, "user": self._file_user()})
        if found is None:
            return "", 404
        if self._file_setting("FileUpload_ProtectFiles"):
            user = self._file_user()
            if user is None:
                return "", 403
            to_members = self._file_setting("FileUpload_Restrict_to_room_members")
            to_access = self._file_setting("FileUpload_Restrict_to_users_who_can_access_room")
            if to_members and to_access:
                return "", 403  # both on: the function falls through to "false"
            if to_members and (found["rid"], user) not in self.subscriptions:
                return "", 403
            if to_access and not self._can_access_room(self.rooms.get(found["rid"]), user):
                return "", 403
        response = self.app.response_class(found["data"], mimetype=found["type"])
        response.headers["Content-Disposition"] = f'attachment; filename="{found["name"]}"'
        return response

    def _chat_send_message(self) -> dict[str, Any]:
        """POST chat.sendMessage (api/v1/chat.ts -> executeSendMessage -> canSendMessage):
        authenticated, the room accessible to the caller, an ``_id`` of ours kept (a repeat
        is refused: sendMessage finds the id taken)."""
        if not self._authenticated():
            raise NotLoggedIn()
        data = (request.get_json(silent=True) or {}).get("message")
        if not isinstance(data, dict) or not isinstance(data.get("rid"), str):
            raise RCError("invalid-params", "must have required property 'rid'")
        if len(data.get("msg") or "") > self._file_setting("Message_MaxAllowedSize"):
            raise RCError("error-message-size-exceeded", "Message size exceeds")
        room = self.rooms.get(data["rid"])
        if room is None:
            raise RCError("error-invalid-room")
        if not self._can_access_room(room, USER_ID):
            raise RCError("error-not-allowed", "Not allowed")
        message_id = data.get("_id") or self._new_id("msg")
        if any(m["_id"] == message_id for m in self.messages):
            raise RCError("Cannot convert undefined or null to object")
        message = {
            "_id": message_id,
            "rid": room["_id"],
            "msg": data.get("msg") or "",
            "u": {"_id": USER_ID, "username": BOT_USERNAME},
            "ts": time.time(),
        }
        self.messages.append(message)
        return {"message": message}

    def notices_in(self, room_id: str) -> list[str]:
        """What the service's own user posted in the room."""
        return [
            m["msg"]
            for m in self.messages
            if m["rid"] == room_id and (m.get("u") or {}).get("_id") == USER_ID
        ]

    def _media_api(self, app: Flask) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.file_downloads: list[dict[str, Any]] = []
        self.subscriptions: set[tuple[str, str]] = set()  # (room id, user id)
        app.add_url_rule(
            "/file-upload/<file_id>/<name>",
            endpoint="file-upload",
            view_func=self._file_download,
            methods=["GET"],
        )
        app.add_url_rule(
            "/api/v1/chat.sendMessage",
            endpoint="chat.sendMessage",
            view_func=self._wrap(self._chat_send_message),
            methods=["POST"],
        )


def _phones(visitor: dict[str, Any]) -> list[str]:
    return [p.get("phoneNumber") for p in visitor.get("phone") or []]


def _served(agent: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"_id": agent["_id"], "username": agent["username"]} if agent else None


def _error(status: int, message: str) -> Any:
    return jsonify({"success": False, "error": message, "errorType": message}), status


# omnichannel.ts: the settings of ours that are public: true.
PUBLIC_SETTINGS = frozenset({"Livechat_Routing_Method"})


class _BareFailure(RCError):
    """API.v1.failure() without arguments: 400 ``{"success": false}``."""

    def __init__(self) -> None:
        super().__init__("")

    def body(self) -> dict[str, Any]:
        return {"success": False}
