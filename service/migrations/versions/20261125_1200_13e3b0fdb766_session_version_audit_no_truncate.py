"""Users get a session version (bumped to end their sessions); the audit log refuses TRUNCATE.

Revision ID: 13e3b0fdb766
Revises: 2160350a76df
Create Date: 2026-11-25 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '13e3b0fdb766'
down_revision = '2160350a76df'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), server_default='0', nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        # Row triggers do not see TRUNCATE: a statement-level trigger refuses it too, with
        # the function the core schema made for UPDATE and DELETE (it always raises).
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
