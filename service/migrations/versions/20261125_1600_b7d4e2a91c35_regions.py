"""Regions (issue 12): a ``regions`` table (optionally grouped under a macroregion), the
cartera's default region and the contact's own region as references to it, and the agent
serving a conversation (who took a team fallback or a transfer).

The free text ``carteras.region`` becomes region rows: one per distinct text ignoring case
and spacing (the first spelling met, by cartera id, names the row).

Revision ID: b7d4e2a91c35
Revises: 2942d8d0377f
Create Date: 2026-11-25 16:00:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d4e2a91c35'
down_revision = '2942d8d0377f'
branch_labels = None
depends_on = None


def _key(text):
    return " ".join(text.split()).casefold()


def upgrade():
    op.create_table(
        'regions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('name_key', sa.String(length=80), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['parent_id'], ['regions.id'], name=op.f('fk_regions_parent_id_regions'),
            ondelete='RESTRICT',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
        sa.UniqueConstraint('name_key', name=op.f('uq_regions_name_key')),
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regions_parent_id'), ['parent_id'], unique=False)
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_carteras_region_id'), ['region_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_carteras_region_id_regions'), 'regions', ['region_id'], ['id'],
            ondelete='RESTRICT',
        )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_contacts_region_id'), ['region_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_contacts_region_id_regions'), 'regions', ['region_id'], ['id'],
            ondelete='RESTRICT',
        )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('served_by_agent_id', sa.Integer(), nullable=True))
        batch_op.create_index(
            'ix_conversations_served_by_agent_id', ['served_by_agent_id'], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_conversations_served_by_agent_id_agents'), 'agents',
            ['served_by_agent_id'], ['id'], ondelete='SET NULL',
        )

    # The free text becomes region rows.
    bind = op.get_bind()
    carteras = sa.table(
        'carteras', sa.column('id', sa.Integer), sa.column('region', sa.String),
        sa.column('region_id', sa.Integer),
    )
    regions = sa.table(
        'regions', sa.column('id', sa.Integer), sa.column('name', sa.String),
        sa.column('name_key', sa.String), sa.column('created_at', sa.DateTime(timezone=True)),
        sa.column('updated_at', sa.DateTime(timezone=True)),
    )
    ids = {}
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as the models' UTCDateTime stores it there
    rows = bind.execute(
        sa.select(carteras.c.id, carteras.c.region)
        .where(carteras.c.region.is_not(None))
        .order_by(carteras.c.id)
    ).all()
    for cartera_id, text in rows:
        name = " ".join((text or "").split())[:80]
        if not name:
            continue
        key = _key(name)
        if key not in ids:
            ids[key] = bind.execute(
                sa.insert(regions)
                .values(name=name, name_key=key, created_at=now, updated_at=now)
                .returning(regions.c.id)
            ).scalar_one()
        bind.execute(
            sa.update(carteras).where(carteras.c.id == cartera_id).values(region_id=ids[key])
        )
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.drop_column('region')


def downgrade():
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=120), nullable=True))
    op.execute(
        "UPDATE carteras SET region = "
        "(SELECT name FROM regions WHERE regions.id = carteras.region_id)"
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_conversations_served_by_agent_id_agents'), type_='foreignkey'
        )
        batch_op.drop_index('ix_conversations_served_by_agent_id')
        batch_op.drop_column('served_by_agent_id')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contacts_region_id_regions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_contacts_region_id'))
        batch_op.drop_column('region_id')
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_carteras_region_id_regions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_carteras_region_id'))
        batch_op.drop_column('region_id')
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regions_parent_id'))
    op.drop_table('regions')
