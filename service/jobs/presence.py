"""The periodic presence refresh: ask Rocket.Chat which agents are available and keep it on
the agents (domain/presence.py), for the External Service routing answer."""

from __future__ import annotations

import logging

from service.domain import presence
from service.domain.ports import ChatPlatformError
from service.jobs import runtime


def refresh_presence() -> int | None:
    """Agents seen available now; None when the platform cannot tell or did not answer."""
    # every few seconds: its line only at DEBUG
    with runtime.run("refresh_presence", level=logging.DEBUG) as job:
        try:
            available = job.ports.chat.available_agents()
        except ChatPlatformError as exc:
            job.log.warning("presence not refreshed", extra={"error": str(exc)})
            job.outcome = "not answered"
            return None
        if available is None:
            job.outcome = "not known"
            return None
        seen = presence.record(job.session, available, job.ports.clock.now())
        job.session.commit()
        return seen
