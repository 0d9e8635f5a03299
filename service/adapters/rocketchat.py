"""Rocket.Chat Omnichannel behind the ChatPlatform port, over ``rocketchat_API``.

Every call has a timeout; ``{"success": false}`` answers and 4xx become ChatPlatformError,
5xx, 429, timeouts and connection errors become ChatPlatformUnavailable (retried by jobs).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from rocketchat_API.APIExceptions.RocketExceptions import (
    RocketApiException,
    RocketBadStatusCodeException,
)
from rocketchat_API.APISections.base import json_or_error
from rocketchat_API.rocketchat import RocketChat

from service.domain.ports import (
    ChatPlatformError,
    ChatPlatformUnavailable,
    Room,
    RoomClosed,
    Visitor,
)
from service.domain.routing import Presence

log = logging.getLogger(__name__)
T = TypeVar("T")
# Answers that mean "already done": a retry of a forward that had succeeded.
ALREADY_DONE = {"error-selected-agent-room-agent-are-same", "error-forwarding-chat-same-department"}
BADGE_FIELD = "cartera"


class RocketChatClient:
    name = "rocketchat"

    def __init__(self, url: str, user_id: str, auth_token: str, timeout: float = 10.0) -> None:
        self.rc = RocketChat(
            user_id=user_id,
            auth_token=auth_token,
            server_url=url.rstrip("/"),
            session=requests.Session(),
            timeout=timeout,
        )

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            result = call()
        except RocketApiException as exc:
            code = str(exc.error_type or exc.error or "")
            if exc.status_code >= 500 or exc.status_code == 429:
                raise ChatPlatformUnavailable(f"{what}: {code}", code) from exc
            raise ChatPlatformError(f"{what}: {code}", code) from exc
        except RocketBadStatusCodeException as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise ChatPlatformUnavailable(f"{what}: HTTP {exc.status_code}") from exc
            raise ChatPlatformError(
                f"{what}: HTTP {exc.status_code}", f"http-{exc.status_code}"
            ) from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ChatPlatformUnavailable(f"{what}: {type(exc).__name__}") from exc
        if isinstance(result, dict) and result.get("success") is False:
            code = str(result.get("errorType") or result.get("error") or "")
            raise ChatPlatformError(f"{what}: {code}", code)
        return result

    def _get(self, path: str, **params: str) -> Any:
        # rocketchat_API's call_api_get does not URL-encode query values: send them through
        # its session with requests' params=, and read the answer with its json_or_error.
        url = self.rc.server_url + self.rc.api_path + path
        return self._call(
            path,
            lambda: json_or_error(
                self.rc.session.get(
                    url, params=params, headers=self.rc.headers, timeout=self.rc.timeout
                )
            ),
        )

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
        answer = self._call(
            "livechat/visitor", lambda: self.rc.call_api_post("livechat/visitor", visitor=visitor)
        )
        found = answer.get("visitor") or {}
        # Rocket.Chat may match an existing visitor by phone and keep its token: use its answer.
        return Visitor(id=str(found.get("_id")), token=str(found.get("token") or token))

    def open_room(self, token: str, *, agent_id: str | None = None) -> Room:
        params = {"token": token}
        if agent_id:
            params["agentId"] = agent_id
        answer = self._get("livechat/room", **params)
        room = answer.get("room") or {}
        return Room(
            id=str(room.get("_id")),
            new=bool(answer.get("newRoom")),
            tags=tuple(room.get("tags") or ()),
        )

    def post_visitor_message(self, token: str, room_id: str, text: str, message_id: str) -> None:
        try:
            self._call(
                "livechat/message",
                lambda: self.rc.call_api_post(
                    "livechat/message", token=token, rid=room_id, msg=text, _id=message_id
                ),
            )
        except ChatPlatformError as exc:
            if exc.code and "room-closed" in exc.code:
                raise RoomClosed(str(exc), exc.code) from exc
            raise

    def tag_room(
        self, *, token: str, visitor_id: str, room_id: str, tags: list[str], badge: str
    ) -> None:
        # room.saveInfo REPLACES the tags (an empty list wipes them): merge with the current ones.
        current = self._get("livechat/room", token=token, rid=room_id).get("room") or {}
        merged = list(dict.fromkeys([*(current.get("tags") or []), *tags]))
        self._call(
            "livechat/room.saveInfo",
            lambda: self.rc.call_api_post(
                "livechat/room.saveInfo",
                guestData={"_id": visitor_id},
                roomData={"_id": room_id, "tags": merged, "livechatData": {BADGE_FIELD: badge}},
            ),
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
            self._call(
                "livechat/room.forward",
                lambda: self.rc.call_api_post("livechat/room.forward", **body),
            )
        except ChatPlatformError as exc:
            if exc.code not in ALREADY_DONE:
                raise

    def presence(self, agent_user_id: str) -> Presence:
        answer = self._get(f"livechat/users/agent/{urllib.parse.quote(agent_user_id)}")
        user = answer.get("user") or {}
        status, livechat = user.get("status"), user.get("statusLivechat")
        return Presence(
            available=bool(user) and livechat == "available" and status != "offline",
            status=status,
            status_livechat=livechat,
        )
