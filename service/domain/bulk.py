"""Many rows in few statements, for the CSV import: bulk INSERTs and look-ups by value.

On PostgreSQL new rows go in with ``COPY .. FROM STDIN`` (psycopg formats each row in C):
100k contacts and their 200k identities took ~10 s as arrays of 10k values per
``INSERT .. SELECT unnest(..)`` (psycopg dumps such arrays in Python), 5-6 s with COPY, nearly
all of it the server's own work (indexes, the trigram one above all). COPY returns nothing,
so new ids are drawn from the table's sequence first, in one query. :class:`Writes` runs the
COPYs in a thread of its own, so the caller parses the next rows meanwhile. Look-ups send
one array per batch (``= ANY``). SQLite gets SQLAlchemy's multi-row INSERT and ``IN``, at
once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, TypeVarTuple

import sqlalchemy as sa
from sqlalchemy import Row, Select, any_, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, JSON
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

_Ts = TypeVarTuple("_Ts")

# Values per look-up: arrays of 10k values stay well under a megabyte; SQLite's multi-row
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
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    ids: bool = False,
) -> list[int]:
    """Insert *rows* of the mapped class *model*: one tuple per row, its values in the order
    of *columns*, each row also with the values of *same* (sent once: e.g. one
    ``created_at``); with *ids*, the new rows' ``id`` in the order of *rows* (ascending, as
    one INSERT of them would give)."""
    writes = Writes(session)
    try:
        return writes.insert(model, columns, rows, same=same, ids=ids)
    finally:
        writes.close()


class Writes:
    """The bulk inserts of one transaction. On PostgreSQL each is a COPY run by a thread of
    this object's own, in the order asked, while the caller goes on: the caller must not use
    the session until :meth:`wait` (or :meth:`close`). On SQLite each runs at once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgresql = _postgresql(session)
        self.pending: list[Future[None]] = []
        self.thread: ThreadPoolExecutor | None = None

    def insert(
        self,
        model: type[Any],
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        same: Mapping[str, Any] | None = None,
        ids: bool = False,
    ) -> list[int]:
        """Insert *rows* as :func:`insert_rows` does; on PostgreSQL the new ids are drawn
        now (after the inserts still running), the rows written later."""
        if not rows:
            return []
        same = same or {}
        if not self.postgresql:
            return _insert_statements(self.session, model, columns, rows, same, ids)
        table: sa.Table = model.__table__
        pending_changes = bool(self.session.new or self.session.dirty or self.session.deleted)
        if ids or pending_changes:
            self.wait()  # drawing ids, or flushing, needs the connection
        self.session.flush()  # as session.execute would: pending ORM changes go first
        new_ids = _next_ids(self.session, table, len(rows)) if ids else []
        copy = _copy(self.session, table, columns, rows, same, new_ids)
        if self.thread is None:
            self.thread = ThreadPoolExecutor(1, thread_name_prefix="bulk-copy")
        self.pending.append(self.thread.submit(copy))
        return new_ids

    def wait(self) -> None:
        """Wait for every insert asked; raise the first one's error (IntegrityError, ...)."""
        pending, self.pending = self.pending, []
        errors = [f.exception() for f in pending]  # each waited for, even after an error
        for error in errors:
            if error is not None:
                raise error

    def close(self) -> None:
        """:meth:`wait`, and end the thread (also when the caller is failing: the session
        is not rolled back under a running COPY)."""
        try:
            self.wait()
        finally:
            if self.thread is not None:
                self.thread.shutdown()
                self.thread = None


def _insert_statements(
    session: Session,
    model: type[Any],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: Mapping[str, Any],
    ids: bool,
) -> list[int]:
    statement = insert(model)
    if ids:
        statement = statement.returning(model.id, sort_by_parameter_order=True)
    new_ids: list[int] = []
    for chunk in _chunks(rows, BATCH):
        # Keep NULLs in the parameters: otherwise rows with and without a value have
        # different key sets, and each change of set starts a new statement.
        result = session.execute(
            statement,
            [{**dict(zip(columns, row, strict=True)), **same} for row in chunk],
            execution_options={"render_nulls": True},
        )
        if ids:
            new_ids += result.scalars().all()
    return new_ids


def _copy(
    session: Session,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: Mapping[str, Any],
    new_ids: list[int],
) -> Callable[[], None]:
    """A function that COPYs *rows* on the session's connection, using no SQLAlchemy object
    (a thread without the caller's context may run it)."""
    connection = session.connection()
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    assert driver is not None
    names = ["id"] if new_ids else []
    names += [*columns, *same]
    # COPY bypasses SQLAlchemy's parameter processing: apply the columns' own (e.g. the
    # UTC check of UTCDateTime) to the values sent.
    fixed = tuple(_bind(table.c[name], value, dialect) for name, value in same.items())
    processors = [table.c[name].type.bind_processor(dialect) for name in columns]
    if any(processors):
        rows = [
            tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows
        ]
    quote = dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(n) for n in names)}) FROM STDIN"
    )
    errors = dialect.loaded_dbapi.Error

    def run() -> None:
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                write = copy.write_row
                if new_ids:
                    for new_id, row in zip(new_ids, rows, strict=True):
                        write((new_id, *row, *fixed))
                else:
                    for row in rows:
                        write((*row, *fixed))
        except errors as exc:  # raised as session.execute raises them (IntegrityError, ...)
            raise DBAPIError.instance(statement, None, exc, errors, dialect=dialect) from exc

    return run


def _bind(column: sa.Column[Any], value: Any, dialect: sa.Dialect) -> Any:
    process = column.type.bind_processor(dialect)
    return process(value) if process else value


def _next_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """*count* new values of the sequence behind ``table.id``, ascending: the ids an INSERT
    of that many rows would have taken. The sequence is looked up once (a CTE): called
    per row, ``pg_get_serial_sequence`` took 0.6 s of 100k ``nextval``'s 0.1 s."""
    drawn = session.execute(
        sa.text(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, 'id')::regclass AS seq)"
            " SELECT nextval(s.seq) FROM s, generate_series(1, :n)"
        ),
        {"table": table.name, "n": count},
    ).scalars()
    return sorted(drawn)


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
            yield from session.execute(statement.where(column == any_(_pg_array(column, chunk))))
        return
    for chunk in _chunks(values, BATCH):
        yield from session.execute(statement.where(column.in_(chunk)))


def _pg_array(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any]
) -> ColumnElement[Any]:
    """An array of *values* for ``= ANY``. Text and integers travel as one JSON text,
    encoded in C (psycopg dumps a Python list element by element: ~0.5 s of a 100k-row
    import's look-ups); unpacked as ``text`` (never ``varchar(n)``, which would cut a longer
    value down to a stored one) or ``integer``."""
    kind = column.type
    if isinstance(kind, sa.String | sa.Integer):
        unpacked = func.json_array_elements_text(
            sa.cast(literal(json.dumps(list(values)), sa.Text), JSON)
        )
        element = sa.Text() if isinstance(kind, sa.String) else kind
        return func.array(select(sa.cast(unpacked, element)).scalar_subquery())
    return literal(list(values), ARRAY(kind))
