"""The periodic presence refresh: ask Rocket.Chat which agents are available and keep it on
the agents (domain/presence.py), for the External Service routing answer."""

from __future__ import annotations

import logging

from service.domain import presence
from service.domain.ports import ChatPlatformError
from service.extensions import db
from service.jobs import runtime

log = logging.getLogger(__name__)


def refresh_presence() -> int | None:
    """Agents seen available now; None when the platform cannot tell or did not answer."""
    with runtime.job_context():
        wired = runtime.ports()
        try:
            available = wired.chat.available_agents()
        except ChatPlatformError as exc:
            log.warning("presence not refreshed", extra={"error": str(exc)})
            return None
        if available is None:
            return None
        session = db.session()
        seen = presence.record(session, available, wired.clock.now())
        session.commit()
        return seen
