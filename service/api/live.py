"""Socket.IO edge: agents connect with their API token or their signed-in session and join
only their own rooms; connections that lose access are disconnected.

The token is taken where the REST API takes it (the ``auth`` payload or an ``Authorization:
Bearer`` header), never from the query string, which ends up in access logs. Every live
connection is re-checked with the rule every request obeys (``users.actor_for``, the session
version, the token's revocation): every ``RECHECK_SECONDS`` in the process that holds it, and
at once after a change made in that process. Badges are emitted by jobs
(adapters/live_badges.py), never from here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from flask_socketio import SocketIO, emit, join_room
from sqlalchemy.orm import Session

from service.domain.actor import Actor
from service.domain.conversations import live_rooms
from service.domain.tokens import PREFIX, hash_token, token_actor
from service.domain.users import session_actor
from service.extensions import db

log = logging.getLogger(__name__)

# Longest time a connection keeps its rooms after its access ended in another process (a
# revocation on the command line, a change made by a web process when the live process is
# separate); changes made in the live process itself apply at once.
RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class Credential:
    """What a connection authenticated with: a token (kept as its hash) or a session."""

    token_hash: str | None = None
    user_id: int | None = None
    session_version: int | None = None

    def actor(self, session: Session) -> Actor | None:
        if self.token_hash is not None:
            return token_actor(session, self.token_hash)
        if self.user_id is not None and self.session_version is not None:
            return session_actor(session, self.user_id, self.session_version)
        return None

    def rooms(self, session: Session) -> frozenset[str]:
        """The rooms this credential may be in now; empty when it may not connect."""
        actor = self.actor(session)
        if actor is None or actor.role != "agent":
            return frozenset()
        return frozenset(live_rooms(session, actor))


class LiveConnections:
    """The connections of this process and the credential each came with."""

    def __init__(self, app: Flask, socketio: SocketIO, interval: float = RECHECK_SECONDS) -> None:
        self.app, self.socketio, self.interval = app, socketio, interval
        self._lock = threading.Lock()
        self._connections: dict[str, tuple[Credential, frozenset[str]]] = {}
        self._rechecking = False
        self._wake = threading.Event()  # the app runs Socket.IO in threading mode

    def add(self, sid: str, credential: Credential, rooms: frozenset[str]) -> None:
        with self._lock:
            self._connections[sid] = (credential, rooms)
            start, self._rechecking = not self._rechecking, True
        if start:
            self.socketio.start_background_task(self._recheck_periodically)

    def set_interval(self, seconds: float) -> None:
        self.interval = seconds
        self._wake.set()

    def discard(self, sid: str) -> None:
        with self._lock:
            self._connections.pop(sid, None)

    def __len__(self) -> int:
        return len(self._connections)

    def recheck(self) -> int:
        """Disconnect the connections that lost access; move the others to the rooms they
        may be in now (an agent that changed teams). Returns how many were disconnected."""
        with self._lock:
            current = dict(self._connections)
        if not current:
            return 0
        ended = 0
        with self.app.app_context():
            try:
                for sid, (credential, rooms) in current.items():
                    wanted = credential.rooms(db.session())
                    if not wanted:
                        self._disconnect(sid)
                        ended += 1
                    elif wanted != rooms:
                        self._move(sid, credential, rooms, wanted)
            finally:
                db.session.remove()
        if ended:
            log.info("live connections ended", extra={"count": ended})
        return ended

    def _disconnect(self, sid: str) -> None:
        self.discard(sid)
        self.socketio.server.disconnect(sid, namespace="/")

    def _move(
        self, sid: str, credential: Credential, rooms: frozenset[str], wanted: frozenset[str]
    ) -> None:
        for room in rooms - wanted:
            self.socketio.server.leave_room(sid, room, namespace="/")
        for room in wanted - rooms:
            self.socketio.server.enter_room(sid, room, namespace="/")
        with self._lock:
            if sid in self._connections:
                self._connections[sid] = (credential, wanted)

    def _recheck_periodically(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                if not self._connections:
                    self._rechecking = False
                    return
            try:
                self.recheck()
            except Exception as exc:  # a database outage: keep the connections, retry later
                log.warning("live connections re-check failed", extra={"error": repr(exc)[:300]})


def connections(app: Flask | None = None) -> LiveConnections:
    registry: LiveConnections = (app or current_app).extensions["live_connections"]
    return registry


def recheck_now() -> None:
    """After a committed change of access (an agent deactivated, a handover): end this
    process's connections that lost it now, instead of at the next periodic re-check."""
    connections().recheck()


def _credential(auth: Any) -> Credential | None:
    token = auth.get("token") if isinstance(auth, dict) else None
    if token is None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    if token is not None:
        if not isinstance(token, str) or not token.startswith(PREFIX):
            return None
        return Credential(token_hash=hash_token(token))
    # The agent's page: the signed-in session cookie (its id carries the session version).
    if current_user.is_authenticated:
        return Credential(user_id=current_user.id, session_version=current_user.session_version)
    return None


def on_connect(auth: dict[str, Any] | None = None) -> bool:
    """Accept an agent's API token or its signed-in session; refuse anything else."""
    credential = _credential(auth)
    rooms: frozenset[str] = frozenset()
    if credential is not None:
        try:
            rooms = credential.rooms(db.session())
        finally:
            db.session.remove()
    if credential is None or not rooms:
        log.info("live connection refused")
        return False
    for room in sorted(rooms):
        join_room(room)
    connections().add(request.sid, credential, rooms)  # type: ignore[attr-defined]
    emit("ready", {"rooms": sorted(rooms)})
    return True


def on_disconnect(reason: object = None) -> None:
    connections().discard(request.sid)  # type: ignore[attr-defined]


def register(app: Flask, socketio: SocketIO) -> None:
    app.extensions["live_connections"] = LiveConnections(app, socketio)
    socketio.on_event("connect", on_connect)
    socketio.on_event("disconnect", on_disconnect)
