"""Durable intake: inbox messages, delivery receipts, webhook nonces.

Revision ID: 8bc88bea8ab5
Revises: ea5cfad0179a
Create Date: 2026-11-25 10:04:06.150265

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8bc88bea8ab5'
down_revision = 'ea5cfad0179a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delivery_statuses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_statuses')),
    sa.UniqueConstraint('provider', 'message_id', 'status', name='uq_delivery_statuses_provider_message_status')
    )
    op.create_table('webhook_nonces',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_nonces')),
    sa.UniqueConstraint('provider', 'nonce', name='uq_webhook_nonces_provider_nonce')
    )
    with op.batch_alter_table('webhook_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_nonces_seen_at'), ['seen_at'], unique=False)

    op.create_table('inbox_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('sender_kind', sa.String(length=16), nullable=True),
    sa.Column('sender_value', sa.String(length=320), nullable=True),
    sa.Column('sender_raw', sa.String(length=320), nullable=True),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('other_identities', sa.JSON(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('thread_key', sa.String(length=320), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_inbox_messages_contact_id_contacts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_messages')),
    sa.UniqueConstraint('provider', 'external_id', name='uq_inbox_messages_provider_external_id')
    )
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_messages_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_inbox_messages_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_inbox_messages_status_updated_at', ['status', 'updated_at'], unique=False)



def downgrade():
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_messages_status_updated_at')
        batch_op.drop_index('ix_inbox_messages_received_at')
        batch_op.drop_index(batch_op.f('ix_inbox_messages_contact_id'))

    op.drop_table('inbox_messages')
    with op.batch_alter_table('webhook_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_nonces_seen_at'))

    op.drop_table('webhook_nonces')
    op.drop_table('delivery_statuses')
