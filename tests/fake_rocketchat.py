"""A fake Rocket.Chat HTTP server for tests: same paths, auth headers, JSON shapes and
``{"success": false, "error": ...}`` errors as the reference; keeps state and records calls.

    with FakeRocketChat() as rc:      # serves on 127.0.0.1:<free port>
        rc.add_agent("u-luis", "luis", online=True)
        ... rc.url, rc.user_id, rc.auth_token ...
        rc.fail("livechat/room.forward", status=500, times=2)
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

USER_ID, AUTH_TOKEN = "svc-user", "svc-token"
AUTHENTICATED = ("livechat/room.saveInfo", "livechat/room.forward", "livechat/users/agent")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class FakeRocketChat:
    def __init__(self) -> None:
        self.user_id, self.auth_token = USER_ID, AUTH_TOKEN
        self.agents: dict[str, dict[str, Any]] = {}
        self.visitors: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.forwards: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.down = False
        self.delay = 0.0  # seconds every answer waits (to test timeouts)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
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

    def add_agent(self, user_id: str, username: str, *, online: bool = True) -> None:
        self.agents[user_id] = {
            "_id": user_id,
            "username": username,
            "name": username,
            "status": "online" if online else "offline",
            "statusLivechat": "available" if online else "not-available",
        }

    def set_online(self, user_id: str, online: bool) -> None:
        self.add_agent(user_id, self.agents[user_id]["username"], online=online)

    def fail(self, path: str, *, status: int = 500, times: int = 1, error: str = "boom") -> None:
        self.failures.append({"path": path, "status": status, "times": times, "error": error})

    def close_room(self, room_id: str) -> None:
        self.rooms[room_id]["open"] = False

    def calls_to(self, path: str) -> list[Any]:
        return [body for _, called, body in self.calls if called == path]

    def room_of(self, token: str) -> dict[str, Any]:
        return next(r for r in self.rooms.values() if r["v"]["token"] == token)

    # ---- the server -----------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):05d}"

    def _build(self) -> Flask:
        app = Flask("fake_rocketchat")
        app.before_request(self._gate)
        app.add_url_rule("/api/v1/livechat/visitor", view_func=self._visitor, methods=["POST"])
        app.add_url_rule("/api/v1/livechat/room", view_func=self._room, methods=["GET"])
        app.add_url_rule("/api/v1/livechat/message", view_func=self._message, methods=["POST"])
        app.add_url_rule(
            "/api/v1/livechat/room.saveInfo", view_func=self._save_info, methods=["POST"]
        )
        app.add_url_rule("/api/v1/livechat/room.forward", view_func=self._forward, methods=["POST"])
        app.add_url_rule(
            "/api/v1/livechat/users/agent/<user_id>", view_func=self._agent, methods=["GET"]
        )
        return app

    def _gate(self) -> Any:
        path = request.path.removeprefix("/api/v1/")
        body = request.get_json(silent=True) if request.method == "POST" else dict(request.args)
        with self._lock:
            self.calls.append((request.method, path, body))
        if self.delay:
            time.sleep(self.delay)
        if self.down:
            return "<html>502 Bad Gateway</html>", 502
        for failure in self.failures:
            if path.startswith(failure["path"]) and failure["times"] > 0:
                failure["times"] -= 1
                return _error(failure["status"], failure["error"])
        if path.startswith(AUTHENTICATED) and (
            request.headers.get("X-User-Id") != USER_ID
            or request.headers.get("X-Auth-Token") != AUTH_TOKEN
        ):
            return jsonify({"status": "error", "message": "You must be logged in to do this."}), 401
        return None

    def _visitor(self) -> Any:
        data = (request.get_json() or {}).get("visitor") or {}
        token = data.get("token")
        if not token:
            return _error(400, "error-invalid-token")
        existing = self.visitors.get(token) or next(
            (
                v
                for v in self.visitors.values()
                if data.get("phone") and v.get("phone") == data.get("phone")
            ),
            None,
        )
        if existing is None:
            existing = {
                "_id": self._new_id("vis"),
                "token": token,
                "username": f"guest-{len(self.visitors) + 1}",
            }
            self.visitors[token] = existing
        existing.update({k: data[k] for k in ("name", "phone", "email", "department") if k in data})
        return jsonify({"visitor": existing, "success": True})

    def _room(self) -> Any:
        token, rid = request.args.get("token"), request.args.get("rid")
        visitor = self.visitors.get(token or "")
        if visitor is None:
            return _error(400, "invalid-token")
        if rid:
            found = self.rooms.get(rid)
            if found and found["open"] and found["v"]["token"] != token:
                return _error(400, "cannot-access-room")
            if found and found["open"]:
                return jsonify({"room": found, "newRoom": False, "success": True})
        for found in self.rooms.values():
            if found["v"]["token"] == token and found["open"]:
                return jsonify({"room": found, "newRoom": False, "success": True})
        room_id = self._new_id("room")
        self.rooms[room_id] = {
            "_id": room_id,
            "t": "l",
            "open": True,
            "fname": visitor.get("name"),
            "v": {"_id": visitor["_id"], "token": token, "username": visitor["username"]},
            "tags": [],
            "livechatData": {},
            "departmentId": visitor.get("department"),
            "servedBy": None,
        }
        return jsonify({"room": self.rooms[room_id], "newRoom": True, "success": True})

    def _message(self) -> Any:
        data = request.get_json() or {}
        found = self.rooms.get(data.get("rid", ""))
        if data.get("token") not in self.visitors:
            return _error(400, "invalid-token")
        if found is None:
            return _error(400, "invalid-room")
        if not found["open"]:
            return _error(400, "room-closed")
        if not any(m["_id"] == data.get("_id") for m in self.messages):
            self.messages.append(
                {
                    "_id": data.get("_id") or self._new_id("msg"),
                    "rid": found["_id"],
                    "msg": data.get("msg"),
                    "token": data.get("token"),
                }
            )
        return jsonify({"message": self.messages[-1], "success": True})

    def _save_info(self) -> Any:
        data = request.get_json() or {}
        room_data = data.get("roomData") or {}
        found = self.rooms.get(room_data.get("_id", ""))
        if found is None:
            return _error(400, "error-invalid-room")
        # like Rocket.Chat: tags are REPLACED, an absent list unsets them
        found["tags"] = list(room_data.get("tags") or [])
        found["livechatData"].update(room_data.get("livechatData") or {})
        if "topic" in room_data:
            found["topic"] = room_data["topic"]
        return jsonify({"success": True})

    def _forward(self) -> Any:
        data = request.get_json() or {}
        found = self.rooms.get(data.get("roomId", ""))
        if found is None:
            return _error(400, "error-invalid-room")
        if data.get("departmentId"):
            if found.get("departmentId") == data["departmentId"]:
                return _error(400, "error-forwarding-chat-same-department")
            found["departmentId"] = data["departmentId"]
            found["servedBy"] = None
        else:
            agent = self.agents.get(data.get("userId", ""))
            if agent is None or agent["status"] == "offline":
                return _error(400, "error-user-is-offline")
            if (found.get("servedBy") or {}).get("_id") == agent["_id"]:
                return _error(400, "error-selected-agent-room-agent-are-same")
            found["servedBy"] = {"_id": agent["_id"], "username": agent["username"]}
        found["forwarded"] = True
        self.forwards.append(data)
        return jsonify({"success": True})

    def _agent(self, user_id: str) -> Any:
        return jsonify({"user": self.agents.get(user_id), "success": True})


def _error(status: int, message: str) -> Any:
    return jsonify({"success": False, "error": message, "errorType": message}), status
