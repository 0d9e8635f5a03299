"""In-memory fakes of the ports (cosmicpython style): they record what they were asked."""

from __future__ import annotations

from typing import Any


class FakeLiveBadges:
    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[str]]] = []

    def emit(self, payload: dict[str, Any], rooms: list[str]) -> None:
        self.sent.append((payload, rooms))
