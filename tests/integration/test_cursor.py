"""The engine's psycopg cursors describe their results only when asked (service/extensions.py,
``Cursor``): the description must be psycopg's own, column for column, for every kind of
result, and stay that of its result after the cursor moves on."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa

from service.extensions import Cursor, Description, db
from service.models import Contact

# Results of each shape: several types, a column without a name, no columns at all, rows
# from a DML statement, and statements that return no rows.
QUERIES = (
    "SELECT 1 AS uno, 'dos'::text AS dos, now() AS tres, '{\"a\": 1}'::json, 2.5::numeric(4,1)",
    "SELECT ARRAY[1, 2] AS lista, NULL::bytea AS datos, true",
    "SELECT",
    "SELECT 1 WHERE false",
    "CREATE TEMPORARY TABLE probe (id serial PRIMARY KEY, name varchar(20))",
    "INSERT INTO probe (name) VALUES ('a'), ('b') RETURNING id, name",
    "UPDATE probe SET name = 'c' WHERE id = 1",
    "SELECT id, name FROM probe ORDER BY id",
)


def _described(description) -> list[tuple] | None:
    if description is None:
        return None
    return [(*column, column.name, column.type_display) for column in description]


@pytest.fixture
def on_postgresql(backend):
    if backend.name != "postgresql":
        pytest.skip("the cursor class is psycopg's (SQLite's cursors are the driver's own)")


def test_the_description_is_psycopgs_own(app, on_postgresql):
    with app.app_context():
        pooled = db.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert isinstance(driver, psycopg.Connection)
            ours, theirs = driver.cursor(), psycopg.Cursor(driver)
            assert isinstance(ours, Cursor)
            for query in QUERIES:
                if query.startswith(("CREATE", "INSERT", "UPDATE")):
                    ours.execute(query)
                    made = ours.description
                    expected = psycopg.Cursor.description.fget(ours)  # psycopg's, same result
                else:
                    ours.execute(query)
                    theirs.execute(query)
                    made, expected = ours.description, theirs.description
                assert (made is None) == (expected is None), query
                assert _described(made) == _described(expected), query
                if made is not None:
                    assert isinstance(made, Description)
                    assert len(made) == len(expected), query
                    assert bool(made) == bool(expected), query  # "SELECT": none, still a list
                    assert _described(made[:1]) == _described(expected[:1]), query
        finally:
            pooled.rollback()
            pooled.close()


def test_a_description_stays_that_of_its_result(app, on_postgresql):
    with app.app_context():
        pooled = db.engine.raw_connection()
        try:
            cursor = pooled.driver_connection.cursor()
            cursor.execute("SELECT 1 AS primero, 'x'::text AS segundo")
            first = cursor.description  # nothing made yet
            cursor.execute("SELECT 2 AS otro")
            assert [column.name for column in first] == ["primero", "segundo"]
            assert [column.name for column in cursor.description] == ["otro"]
        finally:
            pooled.rollback()
            pooled.close()


def test_the_engine_reads_rows_through_it(app, on_postgresql):
    """The ORM's statements (cached: their metadata is not read again) and text statements
    (read each time) both see their columns."""
    with app.app_context():
        session = db.session()
        session.add(Contact(name="Ana", search_key="ana"))
        session.commit()
        for _ in range(2):  # the second time from SQLAlchemy's cached metadata
            found = session.execute(sa.select(Contact.id, Contact.name)).one()
            assert found._mapping["name"] == "Ana"
        text = session.execute(sa.text("SELECT name AS nombre FROM contacts")).one()
        assert text._mapping["nombre"] == "Ana" and list(text._mapping) == ["nombre"]
        assert isinstance(session.connection().connection.driver_connection.cursor(), Cursor)
