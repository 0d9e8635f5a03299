"""Routing: conversations, owner timeout and business hours per cartera, agent chat limit.

Revision ID: 058cdb2757f9
Revises: 8bc88bea8ab5
Create Date: 2026-11-25 10:14:31.089366

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '058cdb2757f9'
down_revision = '8bc88bea8ab5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('thread_key', sa.String(length=320), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cartera_id', sa.Integer(), nullable=True),
    sa.Column('cartera_name', sa.String(length=120), nullable=True),
    sa.Column('cartera_icon', sa.String(length=32), nullable=True),
    sa.Column('cartera_color', sa.String(length=7), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('team_name', sa.String(length=120), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('agent_name', sa.String(length=120), nullable=True),
    sa.Column('routed_to', sa.String(length=8), nullable=False),
    sa.Column('department_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('trace', sa.JSON(), nullable=False),
    sa.Column('rc_visitor_token', sa.String(length=64), nullable=True),
    sa.Column('rc_visitor_id', sa.String(length=64), nullable=True),
    sa.Column('rc_room_id', sa.String(length=64), nullable=True),
    sa.Column('rc_tagged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forwarded_to', sa.String(length=80), nullable=True),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner_deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fallback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_conversations_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cartera_id'], ['carteras.id'], name=op.f('fk_conversations_cartera_id_carteras'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_conversations_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_conversations_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_agent_id', ['agent_id'], unique=False)
        batch_op.create_index('ix_conversations_cartera_id', ['cartera_id'], unique=False)
        batch_op.create_index('ix_conversations_contact_id', ['contact_id'], unique=False)
        batch_op.create_index('ix_conversations_opened_at', ['opened_at'], unique=False)
        batch_op.create_index('ix_conversations_rc_room_id', ['rc_room_id'], unique=False)
        batch_op.create_index('uq_conversations_open_thread', ['contact_id', 'channel', 'thread_key'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_open_chats', sa.Integer(), nullable=True))

    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_timeout_seconds', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('business_hours', sa.JSON(), nullable=True))

    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('rc_message_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_inbox_messages_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_inbox_messages_conversation_id_conversations'), 'conversations', ['conversation_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('inbox_messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inbox_messages_conversation_id_conversations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_inbox_messages_conversation_id'))
        batch_op.drop_column('rc_message_id')
        batch_op.drop_column('conversation_id')

    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.drop_column('business_hours')
        batch_op.drop_column('owner_timeout_seconds')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('max_open_chats')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('uq_conversations_open_thread', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_conversations_rc_room_id')
        batch_op.drop_index('ix_conversations_opened_at')
        batch_op.drop_index('ix_conversations_contact_id')
        batch_op.drop_index('ix_conversations_cartera_id')
        batch_op.drop_index('ix_conversations_agent_id')

    op.drop_table('conversations')
