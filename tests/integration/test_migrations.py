"""Migrations build the schema from nothing, match the models, and roll back cleanly."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from service.app import create_app
from service.extensions import db
from tests import isolation
from tests.conftest import _prepare_postgres, make_config, unavailable


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrations.db"
    rendered = isolation.pg_url("migrations")
    try:
        _prepare_postgres(rendered)
    except sa.exc.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    return rendered


def models_only(obj, name, type_, reflected, compare_to):
    return not (type_ == "index" and name and name.endswith("_trgm"))


def test_upgrade_downgrade_upgrade(empty_database):
    app = create_app(make_config(empty_database))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": models_only})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], "models and migrations differ"
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"carteras", "contacts", "contact_identities", "audit_events"} <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        db.engine.dispose()
