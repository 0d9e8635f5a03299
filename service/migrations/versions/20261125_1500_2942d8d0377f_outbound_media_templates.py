"""Replies carry the agent's file (its Rocket.Chat path, name, type; size and sha256 once
fetched; when its signed link was served), a stable error code, and WhatsApp templates
sent instead of a reply refused for the closed 24-hour window.

Revision ID: 2942d8d0377f
Revises: 7c3e91d2a6f0
Create Date: 2026-11-25 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '2942d8d0377f'
down_revision = '7c3e91d2a6f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('media_ref', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('media_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('media_type', sa.String(length=127), nullable=True))
        batch_op.add_column(sa.Column('media_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('media_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column('media_served_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('template_name', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('template_language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('template_params', sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                'replaces_id',
                sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            'fk_outbound_messages_replaces_id_outbound_messages',
            'outbound_messages',
            ['replaces_id'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade():
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_constraint(
            'fk_outbound_messages_replaces_id_outbound_messages', type_='foreignkey'
        )
        for column in (
            'replaces_id',
            'template_params',
            'template_language',
            'template_name',
            'media_served_at',
            'media_sha256',
            'media_size',
            'media_type',
            'media_name',
            'media_ref',
            'error_code',
        ):
            batch_op.drop_column(column)
