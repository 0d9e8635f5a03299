"""Trigram indexes for the contains-searches (audit text, contacts, carteras) on PostgreSQL.

SQLite keeps scanning: the embedded default is not meant for millions of rows.

Revision ID: 2160350a76df
Revises: 2ea0cb403c01
Create Date: 2026-11-25 11:08:07.095324

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2160350a76df'
down_revision = '2ea0cb403c01'
branch_labels = None
depends_on = None


TABLES = ("audit_events", "contacts", "carteras")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table in TABLES:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_{table}_search_key_trgm ON {table} "
            "USING gin (search_key gin_trgm_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_search_key_trgm")
