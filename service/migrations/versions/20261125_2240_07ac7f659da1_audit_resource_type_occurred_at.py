"""Audit events by resource type, newest first, from an index (issue 14, item 3).

``GET /api/audit?resource_type=region`` read the ``occurred_at`` index backwards and
filtered: when that type's events are rare and old, it went through every event (2.5 s over
1 M events); ``(resource_type, occurred_at)`` answers it from its first 50 entries, as
``(event, occurred_at)`` already does for the event filter.

Revision ID: 07ac7f659da1
Revises: b7d4e2a91c35
Create Date: 2026-11-25 22:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '07ac7f659da1'
down_revision = 'b7d4e2a91c35'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_audit_events_resource_type_occurred_at',
        'audit_events',
        ['resource_type', 'occurred_at'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_audit_events_resource_type_occurred_at', table_name='audit_events')
