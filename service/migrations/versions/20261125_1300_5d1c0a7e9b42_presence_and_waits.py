"""Agents keep their Rocket.Chat availability as last seen (External Service routing names
only available agents); inbox rows that wait for Rocket.Chat keep when to try again; an
index for the order of a conversation's messages.

Revision ID: 5d1c0a7e9b42
Revises: 13e3b0fdb766
Create Date: 2026-11-25 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '5d1c0a7e9b42'
down_revision = '13e3b0fdb766'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rc_available', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('rc_presence_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
        # a conversation's messages in order (service/domain/ordering.py)
        batch_op.create_index(
            'ix_inbox_messages_thread', ['channel', 'thread_key', 'sent_at'], unique=False
        )


def downgrade():
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_messages_thread')
        batch_op.drop_column('not_before')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('rc_presence_at')
        batch_op.drop_column('rc_available')
