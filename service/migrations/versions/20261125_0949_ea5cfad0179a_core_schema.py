"""Core schema: teams, agents, carteras, contacts, identities, users, tokens, audit.

Revision ID: ea5cfad0179a
Revises: 
Create Date: 2026-11-25 09:49:27.381569

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ea5cfad0179a'
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY = {
    # The audit log is append-only: the database itself refuses UPDATE and DELETE.
    "postgresql": [
        """CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END;
        $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
        """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    ],
}
DROP_APPEND_ONLY = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
        "DROP FUNCTION IF EXISTS audit_events_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
    ],
}


def upgrade():
    op.create_table('agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('rocketchat_user_id', sa.String(length=64), nullable=True),
    sa.Column('rocketchat_username', sa.String(length=120), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('email', name=op.f('uq_agents_email')),
    sa.UniqueConstraint('rocketchat_user_id', name=op.f('uq_agents_rocketchat_user_id')),
    sa.UniqueConstraint('rocketchat_username', name=op.f('uq_agents_rocketchat_username'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=120), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=True),
    sa.Column('resource_name', sa.String(length=200), nullable=True),
    sa.Column('related_name', sa.String(length=200), nullable=True),
    sa.Column('search_key', sa.Text(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_actor_user_id', ['actor_user_id'], unique=False)
        batch_op.create_index('ix_audit_events_event_occurred_at', ['event', 'occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_resource', ['resource_type', 'resource_id'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('rocketchat_department_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name_key', name=op.f('uq_teams_name_key')),
    sa.UniqueConstraint('rocketchat_department_id', name=op.f('uq_teams_rocketchat_department_id'))
    )
    op.create_table('agent_teams',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_teams_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_agent_teams_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'team_id', name=op.f('pk_agent_teams'))
    )
    with op.batch_alter_table('agent_teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_teams_team_id'), ['team_id'], unique=False)

    op.create_table('carteras',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('icon', sa.String(length=32), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=True),
    sa.Column('region', sa.String(length=120), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('search_key', sa.Text(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('team_id IS NOT NULL OR agent_id IS NOT NULL', name=op.f('ck_carteras_has_owner')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_carteras_agent_id_agents'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_carteras_team_id_teams'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_carteras')),
    sa.UniqueConstraint('name_key', name=op.f('uq_carteras_name_key'))
    )
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.create_index('ix_carteras_active_team', ['active', 'team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_carteras_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_carteras_team_id'), ['team_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role <> 'agent' OR agent_id IS NOT NULL", name=op.f('ck_users_agent_has_agent')),
    sa.CheckConstraint("role IN ('admin', 'coordinator', 'agent')", name=op.f('ck_users_known_role')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_users_agent_id_agents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_agent_id'), ['agent_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('external_ref', sa.String(length=120), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('search_key', sa.Text(), nullable=False),
    sa.Column('cartera_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cartera_id'], ['carteras.id'], name=op.f('fk_contacts_cartera_id_carteras'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_contacts_external_ref'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_cartera_id'), ['cartera_id'], unique=False)
        batch_op.create_index('ix_contacts_name', ['name', 'id'], unique=False)

    op.create_table('contact_identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_contact_identities_contact_id_contacts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_identities')),
    sa.UniqueConstraint('kind', 'value', name='uq_contact_identities_kind_value')
    )
    with op.batch_alter_table('contact_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_identities_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index('ix_contact_identities_value', ['value'], unique=False)

    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)



def downgrade():
    for statement in DROP_APPEND_ONLY.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    with op.batch_alter_table('contact_identities', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_identities_value')
        batch_op.drop_index(batch_op.f('ix_contact_identities_contact_id'))

    op.drop_table('contact_identities')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_name')
        batch_op.drop_index(batch_op.f('ix_contacts_cartera_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_agent_id'))

    op.drop_table('users')
    with op.batch_alter_table('carteras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_carteras_team_id'))
        batch_op.drop_index(batch_op.f('ix_carteras_agent_id'))
        batch_op.drop_index('ix_carteras_active_team')

    op.drop_table('carteras')
    with op.batch_alter_table('agent_teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_teams_team_id'))

    op.drop_table('agent_teams')
    op.drop_table('teams')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_resource')
        batch_op.drop_index('ix_audit_events_occurred_at')
        batch_op.drop_index('ix_audit_events_event_occurred_at')
        batch_op.drop_index('ix_audit_events_actor_user_id')

    op.drop_table('audit_events')
    op.drop_table('agents')
