"""Rocket.Chat Omnichannel behind the ChatPlatform port, over ``rocketchat_API``.

Every call has a timeout; ``{"success": false}`` answers and 4xx become ChatPlatformError,
5xx, timeouts and connection errors ChatPlatformUnavailable (retried by jobs), and 429 or
"no agent online" ChatPlatformWait (waited for, never counted as a failure). The answers
handled here are the real server's, read from its source (files cited where used).
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, TypeVar

import requests
from rocketchat_API.APIExceptions.RocketExceptions import (
    RocketApiException,
    RocketBadStatusCodeException,
)
from rocketchat_API.APISections.base import json_or_error
from rocketchat_API.rocketchat import RocketChat

from service.domain.ports import (
    AgentUnavailable,
    ChatAgent,
    ChatCustomField,
    ChatDepartment,
    ChatPlatformError,
    ChatPlatformUnavailable,
    ChatPlatformWait,
    FileRefused,
    Room,
    RoomClosed,
    SameDepartment,
    Visitor,
)
from service.domain.routing import Presence

log = logging.getLogger(__name__)
T = TypeVar("T")
# A forward to the agent already serving the room is done (a retry after it went through).
# A same-department forward is NOT: Rocket.Chat refused it and the room did not move
# (lib/Helper.ts forwardRoomToDepartment); the job decides again on the room as it is.
ALREADY_SERVING = "error-selected-agent-room-agent-are-same"
SAME_DEPARTMENT = "error-forwarding-chat-same-department"
# lib/Helper.ts forwardRoomToAgent: Users.findOneOnlineAgentById found nobody (offline, not
# available, inactive, not a livechat agent, or no such user).
AGENT_UNAVAILABLE = "error-user-is-offline"
# api/v1/room.ts room.forward, api/v1/message.ts, rooms.ts returnRoomAsInquiry.
CLOSED = ("This_conversation_is_already_closed", "room-closed")
# api/v1/message.ts (7.x lib/messages.ts): an existing _id makes sendMessage return nothing,
# and Object.assign(undefined) throws this TypeError: the message was NOT stored again.
DUPLICATE_MESSAGE = "Cannot convert undefined or null to object"
# lib/QueueManager.ts requestRoom: no agent online and Livechat_accept_chats_with_no_agents off.
NO_AGENT_ONLINE = "no-agent-online"
TOO_MANY = "error-too-many-requests"
BADGE_FIELD = "cartera"
# FileUpload.getPath: /file-upload/<file id>/<name>
_FILE_REF = re.compile(r"/file-upload/[A-Za-z0-9]+/[^/?#\\]+")
QUICK_BACKOFF = (0.05, 0.2, 1.0)  # seconds before each quick retry of a 5xx


class RocketChatClient:
    name = "rocketchat"

    def __init__(
        self,
        url: str,
        user_id: str,
        auth_token: str,
        timeout: float = 10.0,
        no_agent_wait: float = 30.0,
        quick_retries: int = 0,
    ) -> None:
        self.rc = RocketChat(
            user_id=user_id,
            auth_token=auth_token,
            server_url=url.rstrip("/"),
            session=requests.Session(),
            timeout=timeout,
        )
        self.no_agent_wait = no_agent_wait
        self.quick_retries = max(0, quick_retries)

    def _wait(self, what: str, code: str, response: requests.Response | None) -> ChatPlatformWait:
        """A 429 waits until X-RateLimit-Reset (epoch milliseconds, ApiClass.ts); no agent
        online waits a fixed time (nothing tells when an agent will sign in)."""
        now = datetime.now(UTC)
        retry_at = now + timedelta(seconds=self.no_agent_wait)
        reset = response.headers.get("X-RateLimit-Reset") if response is not None else None
        if reset and reset.isdigit():
            retry_at = max(now, datetime.fromtimestamp(int(reset) / 1000, UTC))
        return ChatPlatformWait(f"{what}: {code}", code, retry_at)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            result = call()
        except RocketApiException as exc:
            # upload.ts answers its refusals as {"reason": "error-type-not-allowed"}
            reason = (exc.response_json or {}).get("reason")
            code = _code(exc.error_type or reason or exc.error)
            if exc.status_code == 429 or TOO_MANY in code or NO_AGENT_ONLINE in code:
                raise self._wait(what, TOO_MANY if exc.status_code == 429 else code, None) from exc
            if exc.status_code >= 500:
                raise ChatPlatformUnavailable(f"{what}: {code}", code) from exc
            if exc.status_code == 401:  # "You must be logged in to do this."
                raise ChatPlatformError(f"{what}: {code}", "http-401") from exc
            raise ChatPlatformError(f"{what}: {code}", code) from exc
        except RocketBadStatusCodeException as exc:
            if exc.status_code == 429:
                raise self._wait(what, TOO_MANY, None) from exc
            if exc.status_code >= 500:
                raise ChatPlatformUnavailable(f"{what}: HTTP {exc.status_code}") from exc
            raise ChatPlatformError(
                f"{what}: HTTP {exc.status_code}", f"http-{exc.status_code}"
            ) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ChatPlatformUnavailable(f"{what}: {type(exc).__name__}") from exc
        if isinstance(result, dict) and result.get("success") is False:
            code = _code(result.get("errorType") or result.get("error"))
            raise ChatPlatformError(f"{what}: {code}", code)
        return result

    def _send(
        self,
        method: str,
        path: str,
        *,
        headers_extra: dict[str, str] | None = None,
        repeatable: bool = True,
        **kw: Any,
    ) -> Any:
        """One call through rocketchat_API's session, with query values URL-encoded (its
        call_api_get does not) and the rate-limit headers kept for a 429."""
        url = self.rc.server_url + self.rc.api_path + path
        response: list[requests.Response] = []

        def call() -> Any:
            answer = self.rc.session.request(
                method,
                url,
                headers={**self.rc.headers, **(headers_extra or {})},
                timeout=self.rc.timeout,
                **kw,
            )
            response.append(answer)
            return json_or_error(answer)

        tries = self.quick_retries + 1 if repeatable else 1
        for attempt in range(tries):
            response.clear()
            try:
                return self._call(path, call)
            except ChatPlatformWait as wait:
                if wait.code == TOO_MANY and response:
                    raise self._wait(path, TOO_MANY, response[-1]) from wait
                raise
            except ChatPlatformUnavailable as exc:
                # A 5xx or a refused connection is tried again at once, a few times: every
                # step is safe to repeat (a repeated message id is refused and confirmed, a
                # visitor, room, badge or forward comes out the same). A timeout is not: it
                # already cost its wait, and the job's back-off handles it.
                if attempt == tries - 1 or isinstance(exc.__cause__, requests.Timeout):
                    raise
                time.sleep(QUICK_BACKOFF[min(attempt, len(QUICK_BACKOFF) - 1)])
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, **params: str) -> Any:
        return self._send("GET", path, params=params)

    def _post(self, path: str, **body: Any) -> Any:
        return self._send("POST", path, json=body)

    def register_visitor(
        self, token: str, *, name: str, phone: str | None, email: str | None, department: str | None
    ) -> Visitor:
        visitor: dict[str, Any] = {"token": token, "name": name}
        if phone:
            visitor["phone"] = phone
        if email:
            visitor["email"] = email
        if department:
            visitor["department"] = department
        answer = self._post("livechat/visitor", visitor=visitor)
        found = answer.get("visitor") or {}
        # lib/Visitors.ts registerGuest: a visitor found by phone is updated and KEEPS its old
        # token, so the token to use from now on is the one in the answer.
        return Visitor(id=str(found.get("_id")), token=str(found.get("token") or token))

    def open_room(self, token: str, *, agent_id: str | None = None) -> Room:
        params = {"token": token}
        if agent_id:
            params["agentId"] = agent_id
        answer = self._get("livechat/room", **params)
        return _room(answer.get("room") or {}, new=bool(answer.get("newRoom")))

    def room(self, room_id: str) -> Room | None:
        # rooms.info is authenticated (the bot's api-bypass-rate-limit applies), unlike the
        # visitor route livechat/room, limited to 5 calls a minute per address.
        try:
            answer = self._get("rooms.info", roomId=room_id)
        except ChatPlatformError as exc:
            if exc.retryable:
                raise
            return None
        found = answer.get("room")
        return _room(found, new=False) if isinstance(found, dict) else None

    def post_visitor_message(self, token: str, room_id: str, text: str, message_id: str) -> None:
        try:
            self._post("livechat/message", token=token, rid=room_id, msg=text, _id=message_id)
        except ChatPlatformError as exc:
            if exc.code and "room-closed" in exc.code:
                raise RoomClosed(str(exc), exc.code) from exc
            if exc.code == DUPLICATE_MESSAGE and self._stored(token, room_id, message_id):
                return  # posted by an earlier try whose answer was lost
            raise

    def _stored(self, token: str, room_id: str, message_id: str) -> bool:
        try:
            self._get(
                f"livechat/message/{urllib.parse.quote(message_id)}", token=token, rid=room_id
            )
        except ChatPlatformError as exc:
            if exc.retryable:
                raise
            return False
        return True

    def tag_room(
        self,
        *,
        visitor_id: str,
        room_id: str,
        tags: list[str],
        badge: str,
        visitor_name: str | None = None,
    ) -> None:
        # room.saveInfo REPLACES the tags (an empty list wipes them): merge with the current
        # ones, read through the authenticated rooms.info.
        current = self.room(room_id)
        merged = list(dict.fromkeys([*(current.tags if current else ()), *tags]))
        guest: dict[str, Any] = {"_id": visitor_id}
        if visitor_name:
            guest["name"] = visitor_name  # the name agents see in the sidebar and header
        self._post(
            "livechat/room.saveInfo",
            guestData=guest,
            roomData={
                "_id": room_id,
                "topic": badge,
                "tags": merged,
                "livechatData": {BADGE_FIELD: badge},
            },
        )

    def forward(
        self,
        room_id: str,
        *,
        agent_id: str | None = None,
        department_id: str | None = None,
        comment: str,
    ) -> None:
        body: dict[str, Any] = {"roomId": room_id, "comment": comment}
        if department_id:
            body["departmentId"] = department_id
        elif agent_id:
            body["userId"] = agent_id
        try:
            self._post("livechat/room.forward", **body)
        except ChatPlatformError as exc:
            if exc.code == ALREADY_SERVING:
                return
            if exc.code == AGENT_UNAVAILABLE:
                raise AgentUnavailable(str(exc), exc.code) from exc
            if exc.code == SAME_DEPARTMENT:
                raise SameDepartment(str(exc), exc.code) from exc
            if exc.code in CLOSED:
                raise RoomClosed(str(exc), exc.code) from exc
            raise

    def upload_visitor_file(
        self,
        token: str,
        room_id: str,
        file: BinaryIO,
        *,
        name: str,
        content_type: str,
        description: str | None = None,
    ) -> None:
        # POST livechat/upload/:rid (imports/server/rest/upload.ts): multipart field "file",
        # header x-visitor-token; refused unless FileUpload_Enabled and
        # Livechat_fileupload_enabled, above FileUpload_MaxFileSize, or for a type outside
        # the whitelist (or in the blacklist); 403 for a closed or foreign room.
        data = {"description": description} if description else None
        try:
            self._send(
                "POST",
                f"livechat/upload/{urllib.parse.quote(room_id)}",
                files={"file": (name, file, content_type)},
                data=data,
                headers_extra={"x-visitor-token": token},
                repeatable=False,  # an upload has no id: a repeat could show it twice
            )
        except ChatPlatformError as exc:
            if exc.retryable:
                raise
            raise FileRefused(str(exc), exc.code) from exc

    def return_to_queue(self, room_id: str, department_id: str | None) -> bool:
        # imports/server/rest/inquiries.ts (7.x); 6.x has only the livechat:returnAsInquiry
        # method. {"result": false} when nobody serves the room.
        body: dict[str, Any] = {"roomId": room_id}
        if department_id:
            body["departmentId"] = department_id
        try:
            answer = self._post("livechat/inquiries.returnAsInquiry", **body)
        except ChatPlatformError as exc:
            if exc.code in CLOSED:
                raise RoomClosed(str(exc), exc.code) from exc
            raise
        return bool(answer.get("result"))

    def available_agents(self) -> frozenset[str] | None:
        # GET livechat/users/agent?onlyAvailable=true&showIdleAgents=false (users.ts
        # findAgents): statusLivechat "available" and status not offline, what
        # findOneOnlineAgentByUserList asks of an External Service answer.
        found = self._pages(
            "livechat/users/agent", "users", onlyAvailable="true", showIdleAgents="false"
        )
        return frozenset(str(u.get("_id")) for u in found)

    def presence(self, agent_user_id: str) -> Presence:
        try:
            answer = self._get(f"livechat/users/agent/{urllib.parse.quote(agent_user_id)}")
        except ChatPlatformError as exc:
            if exc.code != "User not found":
                raise
            answer = {}  # deleted from Rocket.Chat
        user = answer.get("user") or {}
        status, livechat = user.get("status"), user.get("statusLivechat")
        return Presence(
            # {"user": null} without the livechat-agent role; a deactivated user is offline.
            available=bool(user)
            and user.get("active", True) is not False
            and livechat == "available"
            and status != "offline",
            status=status,
            status_livechat=livechat,
        )

    # ---- set-up check and sync (rocketchat check / sync) ----------------------------------
    def server_version(self) -> str:
        # GET /api/info (API.default, no auth; apps/meteor/app/api/server/default/info.ts):
        # {"version": "7.4"} anonymously, {"info": {"version": "7.4.1", ...}} with
        # get-server-info.
        answer = self._call(
            "info",
            lambda: json_or_error(
                self.rc.session.get(
                    self.rc.server_url + "/api/info",
                    headers=self.rc.headers,
                    timeout=self.rc.timeout,
                )
            ),
        )
        info = answer.get("info") if isinstance(answer, dict) else None
        version = (info or {}).get("version") or (answer or {}).get("version")
        if not version:
            raise ChatPlatformUnavailable("info: no version in the answer")
        return str(version)

    def bot_permissions(self) -> frozenset[str]:
        # GET me (misc.ts: the user's own fields, roles included) and GET permissions.listAll
        # (permissions.ts: {"update": [{_id, roles}], "remove": []}): a permission is held
        # when one of the user's roles is in its roles.
        roles = set(self._get("me").get("roles") or [])
        listed = self._get("permissions.listAll").get("update") or []
        return frozenset(str(p.get("_id")) for p in listed if roles & set(p.get("roles") or []))

    def read_settings(self, ids: list[str]) -> dict[str, Any]:
        # GET settings/:_id (settings.ts): {"_id", "value"} with view-privileged-setting,
        # else 403; public ones are also in GET settings.public?_id=a,b (7.x).
        found: dict[str, Any] = {}
        for setting in ids:
            try:
                answer = self._get(f"settings/{urllib.parse.quote(setting)}")
            except ChatPlatformError:
                continue
            if "value" in answer:
                found[setting] = answer["value"]
        missing = [s for s in ids if s not in found]
        if missing:
            try:
                public = self._get("settings.public", _id=",".join(missing), count="100")
            except ChatPlatformError:
                public = {}
            for item in public.get("settings") or []:
                if item.get("_id") in missing and "value" in item:
                    found[item["_id"]] = item["value"]
        return found

    def _pages(self, path: str, key: str, **params: str) -> list[dict[str, Any]]:
        """Every item of a paginated list (getPaginationItems.ts: offset, count <= 100;
        answers carry count, offset and total)."""
        items: list[dict[str, Any]] = []
        while True:
            answer = self._get(path, offset=str(len(items)), count="100", **params)
            page = answer.get(key) or []
            items.extend(page)
            if not page or len(items) >= int(answer.get("total") or 0):
                return items

    def custom_fields(self) -> list[ChatCustomField]:
        # GET livechat/custom-fields (livechat/server/api/v1/customField.ts, view-l-room).
        return [
            ChatCustomField(
                id=str(f.get("_id")),
                scope=str(f.get("scope") or ""),
                visibility=str(f.get("visibility") or ""),
            )
            for f in self._pages("livechat/custom-fields", "customFields")
        ]

    def save_custom_field(self, field_id: str, *, label: str, scope: str, visibility: str) -> None:
        data = {
            "field": field_id,
            "label": label,
            "scope": scope,
            "visibility": visibility,
            "regexp": "",
        }
        # POST livechat/custom-fields.save (customField.ts, 7.11+, view-livechat-manager);
        # older servers do not have the route (404).
        answer: Any = None
        try:
            answer = self._post(
                "livechat/custom-fields.save", customFieldId=None, customFieldData=data
            )
        except ChatPlatformError as exc:
            if exc.code != "http-404" and "not found" not in (exc.code or "").lower():
                raise
        if isinstance(answer, dict) and answer.get("customField"):
            return
        # Older servers: the Meteor method livechat:saveCustomField through method.call
        # (misc.ts): errors come back inside the EJSON "message", with success true (7.x).
        message = {
            "msg": "method",
            "id": "1",
            "method": "livechat:saveCustomField",
            "params": [None, data],
        }
        answer = self._post("method.call/livechat:saveCustomField", message=json.dumps(message))
        result = json.loads(answer.get("message") or "{}")
        if result.get("error"):
            error = result["error"]
            code = str(error.get("error") or error) if isinstance(error, dict) else str(error)
            raise ChatPlatformError(f"livechat:saveCustomField: {code}", code)

    def departments(self) -> list[ChatDepartment]:
        # GET livechat/department (paginated; archived ones left out) and, for the agents,
        # GET livechat/department/:_id?includeAgents=true (departments.ts; agents only with
        # view-livechat-departments: [{agentId, username, ...}]).
        found = []
        for department in self._pages("livechat/department", "departments"):
            dep_id = str(department.get("_id"))
            detail = self._get(
                f"livechat/department/{urllib.parse.quote(dep_id)}", includeAgents="true"
            )
            found.append(
                ChatDepartment(
                    id=dep_id,
                    name=str(department.get("name") or dep_id),
                    enabled=department.get("enabled") is not False,
                    agent_ids=frozenset(str(a.get("agentId")) for a in detail.get("agents") or []),
                )
            )
        return found

    def agents(self) -> list[ChatAgent]:
        # GET livechat/users/agent (imports/server/rest/users.ts, server/api/lib/users.ts):
        # every livechat-agent user, without "active".
        return [_chat_user(u) for u in self._pages("livechat/users/agent", "users")]

    def user(self, user_id: str) -> ChatAgent | None:
        # GET users.info?userId= (users.ts): {"user": {..., "active"}}; 400 "User not found."
        try:
            answer = self._get("users.info", userId=user_id)
        except ChatPlatformError as exc:
            if "not found" in (exc.code or "").lower():
                return None
            raise
        found = answer.get("user")
        return _chat_user(found) if found else None

    # ---- outbound media and notices (issue 17) --------------------------------------------
    def download_file(self, ref: str, into: BinaryIO, max_bytes: int) -> str | None:
        """GET ``<server><ref>`` as the service's user. Rocket.Chat's file route
        (apps/meteor/app/file-upload/server/lib/FileUpload.ts, requestCanAccessFiles) takes
        the X-User-Id/X-Auth-Token headers (or rc_uid/rc_token); with FileUpload_ProtectFiles
        and the default FileUpload_Restrict_to_room_members it also wants a subscription to
        the room, which the bot (a livechat-manager) does not have: set
        FileUpload_Restrict_to_users_who_can_access_room instead (view-livechat-rooms)."""
        if not _FILE_REF.fullmatch(ref) or ".." in ref:
            # the path came from a webhook: never let it point anywhere else
            raise ChatPlatformError(f"not a Rocket.Chat file path: {ref[:100]!r}", "bad-file-ref")
        headers = {k: v for k, v in self.rc.headers.items() if k in ("X-User-Id", "X-Auth-Token")}
        try:
            with self.rc.session.get(
                self.rc.server_url + ref,
                headers=headers,
                timeout=self.rc.timeout,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.status_code >= 500 or response.status_code == 429:
                    raise ChatPlatformUnavailable(f"file: HTTP {response.status_code}")
                if response.status_code in (401, 403):
                    raise ChatPlatformError(
                        f"file: HTTP {response.status_code}: the service's user may not read "
                        "this room's files (FileUpload_Restrict_to_room_members; set "
                        "FileUpload_Restrict_to_users_who_can_access_room)",
                        "file-forbidden",
                    )
                if response.status_code != 200:
                    raise ChatPlatformError(f"file: HTTP {response.status_code}", "file-not-found")
                written = 0
                for chunk in response.iter_content(64 * 1024):
                    into.write(chunk)
                    written += len(chunk)
                    if written > max_bytes:
                        break  # the caller sees the size and refuses it
                served: str | None = response.headers.get("Content-Type")
                return served
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ChatPlatformUnavailable(f"file: {type(exc).__name__}") from exc

    def post_notice(self, room_id: str, text: str, notice_id: str) -> None:
        # POST chat.sendMessage (api/v1/chat.ts -> executeSendMessage -> canSendMessage ->
        # canAccessRoom): the livechat validator lets view-livechat-rooms in without a
        # subscription. The _id carries the echo prefix, so the Omnichannel webhook brings it
        # back as our own message and it is never relayed to the customer.
        try:
            self._post("chat.sendMessage", message={"_id": notice_id, "rid": room_id, "msg": text})
        except ChatPlatformError as exc:
            if DUPLICATE_MESSAGE in str(exc) or "already exists" in str(exc):
                return  # posted before: once is enough
            raise


def _code(value: object) -> str:
    """The error code of an answer: ``errorType``, or the ``[code]`` ending a Meteor.Error
    message, or the plain error text (ApiClass.ts)."""
    text = str(value or "")
    if text.endswith("]") and "[" in text:
        return text[text.rindex("[") + 1 : -1]
    return text


def _room(found: dict[str, Any], *, new: bool) -> Room:
    served = found.get("servedBy") or {}
    return Room(
        id=str(found.get("_id")),
        new=new,
        tags=tuple(found.get("tags") or ()),
        open=found.get("open", True) is not False,
        department_id=found.get("departmentId") or None,
        served_by=served.get("_id") if isinstance(served, dict) else None,
    )


def _chat_user(user: dict[str, Any]) -> ChatAgent:
    emails = user.get("emails") or []
    first = emails[0].get("address") if emails and isinstance(emails[0], dict) else None
    active = user.get("active")
    return ChatAgent(
        id=str(user.get("_id")),
        username=str(user.get("username") or ""),
        name=str(user.get("name") or user.get("username") or ""),
        email=first,
        active=active if isinstance(active, bool) else None,
    )
