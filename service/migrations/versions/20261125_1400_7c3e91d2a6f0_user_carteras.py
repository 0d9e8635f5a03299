"""Access granted per user (issue 12): a user sees every cartera (``all_carteras``) or the
carteras granted to it (``user_carteras``). Coordinators and admins keep seeing everything.

Revision ID: 7c3e91d2a6f0
Revises: 5d1c0a7e9b42
Create Date: 2026-11-25 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e91d2a6f0'
down_revision = '5d1c0a7e9b42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('all_carteras', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # what they saw before grants existed: everything
    op.execute(
        sa.text("UPDATE users SET all_carteras = :yes WHERE role IN ('admin', 'coordinator')")
        .bindparams(yes=True)
    )
    op.create_table(
        'user_carteras',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('cartera_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cartera_id'], ['carteras.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'cartera_id'),
    )
    with op.batch_alter_table('user_carteras', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_user_carteras_cartera_id'), ['cartera_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('user_carteras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_carteras_cartera_id'))
    op.drop_table('user_carteras')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('all_carteras')
