"""A chat platform that records calls instead of making them: the embedded default's
stand-in for Rocket.Chat (decisions are still stored and shown)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, BinaryIO

from service.domain.ports import (
    ChatAgent,
    ChatCustomField,
    ChatDepartment,
    ChatPlatformError,
    ChatPlatformUnavailable,
    Room,
    RoomClosed,
    Visitor,
)
from service.domain.routing import Presence


class RecordingChatPlatform:
    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rooms: dict[str, dict[str, Any]] = {}
        # The room last opened for each visitor token: open_room looked through every room
        # ever opened, a cost that grew with each conversation the process routed.
        self._room_of: dict[str, str] = {}
        self._lock = threading.Lock()

    def _record(self, call: str, **args: Any) -> None:
        with self._lock:
            self.calls.append((call, args))

    @staticmethod
    def _id(prefix: str, value: str) -> str:
        return f"{prefix}-{hashlib.sha256(value.encode()).hexdigest()[:17]}"

    def register_visitor(
        self, token: str, *, name: str, phone: str | None, email: str | None, department: str | None
    ) -> Visitor:
        self._record("register_visitor", token=token, department=department)
        return Visitor(id=self._id("visitor", token), token=token)

    def open_room(self, token: str, *, agent_id: str | None = None) -> Room:
        self._record("open_room", token=token, agent_id=agent_id)
        with self._lock:
            known = self.rooms.get(self._room_of.get(token, ""))
            if known is not None and known["token"] == token and known["open"]:
                return Room(id=self._room_of[token], new=False, tags=tuple(known["tags"]))
            room_id = self._id("room", f"{token}:{len(self.rooms)}")
            self.rooms[room_id] = {"token": token, "open": True, "tags": []}
            self._room_of[token] = room_id
        return Room(id=room_id, new=True)

    def room(self, room_id: str) -> Room | None:
        found = self.rooms.get(room_id)
        if found is None:
            return None
        return Room(id=room_id, new=False, tags=tuple(found["tags"]), open=found["open"])

    def post_visitor_message(self, token: str, room_id: str, text: str, message_id: str) -> None:
        self._record("post_visitor_message", room_id=room_id, message_id=message_id)
        room = self.rooms.get(room_id)
        if room is not None and not room["open"]:
            raise RoomClosed("room-closed", "room-closed")

    def tag_room(
        self,
        *,
        visitor_id: str,
        room_id: str,
        tags: list[str],
        badge: str,
        visitor_name: str | None = None,
    ) -> None:
        self._record("tag_room", room_id=room_id, tags=tags, badge=badge)
        room = self.rooms.setdefault(room_id, {"token": None, "open": True, "tags": []})
        room["tags"] = sorted(set(room["tags"]) | set(tags))

    def forward(
        self,
        room_id: str,
        *,
        agent_id: str | None = None,
        department_id: str | None = None,
        comment: str,
    ) -> None:
        self._record("forward", room_id=room_id, agent_id=agent_id, department_id=department_id)

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
        self._record("upload_visitor_file", room_id=room_id, name=name, size=len(file.read()))

    def return_to_queue(self, room_id: str, department_id: str | None) -> bool:
        self._record("return_to_queue", room_id=room_id, department_id=department_id)
        return True

    def available_agents(self) -> frozenset[str] | None:
        return None

    def presence(self, agent_user_id: str) -> Presence:
        # Nothing to ask: the owner counts as available, and the trace says why.
        return Presence(available=True, source="recording")

    # ---- set-up check and sync: there is no platform to read -----------------------------
    def server_version(self) -> str:
        raise ChatPlatformUnavailable("Rocket.Chat is not configured (ROCKETCHAT_URL)")

    def bot_permissions(self) -> frozenset[str]:
        return frozenset()

    def read_settings(self, ids: list[str]) -> dict[str, Any]:
        return {}

    def custom_fields(self) -> list[ChatCustomField]:
        return []

    def save_custom_field(self, field_id: str, *, label: str, scope: str, visibility: str) -> None:
        self._record("save_custom_field", field_id=field_id, scope=scope)

    def departments(self) -> list[ChatDepartment]:
        return []

    def agents(self) -> list[ChatAgent]:
        return []

    def user(self, user_id: str) -> ChatAgent | None:
        return None

    # ---- outbound media and notices (issue 17) --------------------------------------------
    def download_file(self, ref: str, into: BinaryIO, max_bytes: int) -> str | None:
        raise ChatPlatformError(
            "Rocket.Chat is not configured (ROCKETCHAT_URL): no file to fetch", "file-not-found"
        )

    def post_notice(self, room_id: str, text: str, notice_id: str) -> None:
        self._record("post_notice", room_id=room_id, text=text, notice_id=notice_id)
