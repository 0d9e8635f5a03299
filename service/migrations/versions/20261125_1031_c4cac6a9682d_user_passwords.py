"""Users sign in to the web pages with a password (hashed).

Revision ID: c4cac6a9682d
Revises: 058cdb2757f9
Create Date: 2026-11-25 10:31:03.593294

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4cac6a9682d'
down_revision = '058cdb2757f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_hash')

