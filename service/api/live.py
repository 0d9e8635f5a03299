"""Socket.IO edge: agents connect with their API token and join only their own rooms.

Badges are emitted by jobs (adapters/live_badges.py), never from here.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from flask_login import current_user
from flask_socketio import SocketIO, emit, join_room

from service.domain.actor import Actor
from service.domain.conversations import live_rooms
from service.domain.tokens import authenticate
from service.extensions import db

log = logging.getLogger(__name__)


def _actor(auth: dict[str, Any] | None) -> Actor | None:
    token = (auth or {}).get("token") if isinstance(auth, dict) else None
    token = token or request.args.get("token")
    if token:
        return authenticate(db.session(), str(token))
    # The agent's page: the signed-in session cookie.
    if current_user.is_authenticated:
        actor: Actor = current_user.actor()
        return actor
    return None


def on_connect(auth: dict[str, Any] | None = None) -> bool:
    """Accept an agent's API token (``auth={"token": ...}``) or its signed-in session;
    refuse anything else."""
    try:
        actor = _actor(auth)
        rooms = live_rooms(db.session(), actor) if actor and actor.role == "agent" else []
    finally:
        db.session.remove()
    if not rooms:
        log.info("live connection refused")
        return False
    for room in rooms:
        join_room(room)
    emit("ready", {"rooms": rooms})
    return True


def register(socketio: SocketIO) -> None:
    socketio.on_event("connect", on_connect)
