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


def test_free_text_regions_become_region_rows(empty_database):
    """Issue 12: each distinct ``carteras.region`` text (ignoring case and spacing) becomes
    one region; carteras point at it; the downgrade writes the text back."""
    app = create_app(make_config(empty_database))
    with app.app_context():
        upgrade(revision="2942d8d0377f")
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO teams (id, name, name_key, created_at, updated_at) "
                    "VALUES (1, 'Ventas', 'ventas', :now, :now)"
                ),
                {"now": "2026-01-01 00:00:00"},
            )
            for cid, region in ((1, "Norte"), (2, "  norte "), (3, "Sur"), (4, None), (5, " ")):
                conn.execute(
                    sa.text(
                        "INSERT INTO carteras (id, name, name_key, icon, region, search_key, "
                        "team_id, active, owner_timeout_seconds, created_at, updated_at) "
                        "VALUES (:id, :name, :name, 'x', :region, '', 1, :yes, 0, :now, :now)"
                    ),
                    {
                        "id": cid,
                        "name": f"c{cid}",
                        "region": region,
                        "yes": True,
                        "now": "2026-01-01 00:00:00",
                    },
                )
        upgrade()
        with db.engine.connect() as conn:
            regions = dict(conn.execute(sa.text("SELECT name, id FROM regions")).all())
            carteras = dict(
                conn.execute(sa.text("SELECT id, region_id FROM carteras ORDER BY id")).all()
            )
        assert sorted(regions) == ["Norte", "Sur"]
        assert carteras == {
            1: regions["Norte"],
            2: regions["Norte"],
            3: regions["Sur"],
            4: None,
            5: None,
        }
        downgrade(revision="2942d8d0377f")
        with db.engine.connect() as conn:
            texts = conn.execute(sa.text("SELECT region FROM carteras ORDER BY id")).scalars()
            assert list(texts) == ["Norte", "Norte", "Sur", None, None]
        downgrade(revision="base")
        db.engine.dispose()
