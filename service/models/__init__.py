"""SQLAlchemy models, one module per aggregate: columns, constraints and indexes only."""

from service.models.audit import AuditEvent, AuditLogIsAppendOnly
from service.models.cartera import Cartera
from service.models.contact import Contact, ContactIdentity
from service.models.conversation import Conversation
from service.models.inbox import INBOX_STATUSES, DeliveryStatus, InboxMessage, WebhookNonce
from service.models.org import Agent, Team, agent_teams
from service.models.outbound import OutboundMessage
from service.models.region import Region
from service.models.user import ApiToken, User, user_carteras

__all__ = [
    "Agent",
    "ApiToken",
    "AuditEvent",
    "AuditLogIsAppendOnly",
    "Cartera",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "DeliveryStatus",
    "INBOX_STATUSES",
    "InboxMessage",
    "OutboundMessage",
    "Region",
    "Team",
    "User",
    "WebhookNonce",
    "agent_teams",
    "user_carteras",
]
