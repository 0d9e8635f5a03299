"""Live badges over Socket.IO: jobs emit, through the Redis message queue when there is one,
to the agent's and the team's rooms."""

from __future__ import annotations

from typing import Any, Protocol


class Emitter(Protocol):
    def emit(self, event: str, *args: Any, **kwargs: Any) -> Any: ...


class SocketIOBadges:
    def __init__(self, emitter: Emitter) -> None:
        self.emitter = emitter

    def emit(self, payload: dict[str, Any], rooms: list[str]) -> None:
        if rooms:
            # one delivery per connection even when it is in several of these rooms
            self.emitter.emit("badge", payload, to=rooms, namespace="/")
