"""Many rows in few statements, for the CSV import: multi-row INSERTs and look-ups by value.

On PostgreSQL a batch travels as one array per column (``unnest``, ``= ANY``): a short
statement with a few parameters. A multi-row ``VALUES`` has a placeholder per value, which
psycopg parses again for every batch (statements that long are not cached): 100k contacts
and their 200k identities were written about twice as slowly. SQLite gets SQLAlchemy's
multi-row INSERT and ``IN``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, TypeVarTuple

from sqlalchemy import Row, Select, any_, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

_Ts = TypeVarTuple("_Ts")

# Rows per statement: arrays of 10k values stay well under a megabyte; SQLite's multi-row
# INSERT and IN take a bound parameter per value (its limit is 32 766 per statement).
PG_BATCH: Final = 10_000
BATCH: Final = 500


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_rows(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    same: Mapping[str, Any] | None = None,
    ids: bool = False,
) -> list[int]:
    """Insert *rows* of the mapped class *model* (every row with the same keys, column
    names), each also with the values of *same* (sent once: e.g. one ``created_at``);
    with *ids*, the new rows' ``id`` in the order of *rows*."""
    if not rows:
        return []
    same = same or {}
    new_ids: list[int] = []
    if _postgresql(session):
        for chunk in _chunks(rows, PG_BATCH):
            new_ids += _unnest_insert(session, model, chunk, same, ids)
        return new_ids
    statement = insert(model)
    if ids:
        statement = statement.returning(model.id, sort_by_parameter_order=True)
    for chunk in _chunks(rows, BATCH):
        # Keep NULLs in the parameters: otherwise rows with and without a value have
        # different key sets, and each change of set starts a new statement.
        result = session.execute(
            statement,
            [{**row, **same} for row in chunk],
            execution_options={"render_nulls": True},
        )
        if ids:
            new_ids += result.scalars().all()
    return new_ids


def _unnest_insert(
    session: Session,
    model: type[Any],
    rows: Sequence[Mapping[str, Any]],
    same: Mapping[str, Any],
    ids: bool,
) -> list[int]:
    table = model.__table__
    columns = list(rows[0])
    given = (
        func.unnest(
            *[literal([row[name] for row in rows], ARRAY(table.c[name].type)) for name in columns]
        )
        .table_valued(*columns, with_ordinality="ord")
        .render_derived(name="given")
    )
    # One INSERT .. SELECT takes the ids from the sequence in the order the SELECT gives its
    # rows, here the arrays' order: sorting the returned ids gives them back in the order of
    # *rows* (SQLAlchemy's own multi-row INSERT relies on the same on PostgreSQL).
    source = select(
        *[given.c[name] for name in columns],
        *[literal(value, table.c[name].type).label(name) for name, value in same.items()],
    ).order_by(given.c.ord)
    statement = insert(model).from_select([*columns, *same], source)
    if not ids:
        session.execute(statement)
        return []
    return sorted(session.execute(statement.returning(model.id)).scalars().all())


def rows_where_in(
    session: Session,
    statement: Select[*_Ts],
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Sequence[Any],
) -> Iterator[Row[*_Ts]]:
    """The rows of *statement* whose *column* is one of *values*, a batch of values per query
    (``= ANY(array)`` on PostgreSQL, ``IN`` elsewhere)."""
    if _postgresql(session):
        for chunk in _chunks(values, PG_BATCH):
            yield from session.execute(
                statement.where(column == any_(literal(list(chunk), ARRAY(column.type))))
            )
        return
    for chunk in _chunks(values, BATCH):
        yield from session.execute(statement.where(column.in_(chunk)))
