"""Audit events name the other party of membership events by id (ownership history).

Revision ID: 104e1236da46
Revises: c4cac6a9682d
Create Date: 2026-11-25 10:40:10.534772

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '104e1236da46'
down_revision = 'c4cac6a9682d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('related_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_events_related', ['related_id', 'occurred_at'], unique=False)



def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_related')
        batch_op.drop_column('related_id')

