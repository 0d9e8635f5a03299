"""Ports: what the domain and jobs need from the outside world, as Protocols.

Adapters implement them; ``service.app`` builds the real ones, tests pass fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


class QueueUnavailable(Exception):
    """The job queue cannot be reached; the work stays pending and is enqueued later."""


class JobQueue(Protocol):
    def enqueue(self, queue: str, function: str, *args: object, job_id: str) -> bool:
        """Queue ``function(*args)``; False when a job with *job_id* already exists.

        :raise QueueUnavailable: the queue backend cannot be reached.
        """
        ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Ports:
    jobs: JobQueue
    clock: Clock = field(default_factory=SystemClock)
