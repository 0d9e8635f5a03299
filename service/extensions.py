"""Flask extensions, created unbound; ``create_app`` binds them.

Socket.IO is not here: ``create_app`` makes one per app (a shared instance would be
re-bound by every app built in the same process)."""

import select
from collections.abc import Iterator, Sequence
from typing import Any, Final, overload

import psycopg
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from psycopg.pq import ExecStatus
from sqlalchemy import MetaData
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations are stable on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects keep their values after a commit: code that needs fresh rows refreshes them
# explicitly (conditional UPDATEs do), and jobs do not pay a reload after every step.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


def check_pooled_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool ``checkout`` hook for PostgreSQL, in place of ``pool_pre_ping`` (a ``SELECT 1``
    round trip before every request's first statement).

    A pooled connection is idle: PostgreSQL sends it nothing unless it goes away (a restart,
    a terminated backend, a crash: its FATAL message, or the socket's end). So the socket is
    polled without waiting; only when something is there is the connection pinged, and a
    dead one is replaced, with every connection pooled before it (as after a failed pre-ping:
    a restart took them all).
    """
    if not isinstance(dbapi_connection, psycopg.Connection):
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise InvalidatePoolError("the pooled connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if not poller.poll(0):
        return  # nothing arrived while it was idle: alive as far as a ping could tell
    try:
        dbapi_connection.execute("SELECT 1")  # in autocommit, or its transaction is closed
        dbapi_connection.rollback()
    except psycopg.Error as exc:
        raise InvalidatePoolError(f"the pooled connection is gone: {exc}") from None


_TUPLES: Final = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class _Result:
    """What psycopg's ``Column`` reads of its cursor (psycopg/_column.py): the result, the
    connection's encoding and the adapters; taken when the description is asked for, so the
    columns are those of that result even if the cursor has run another statement since."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.pgresult = cursor.pgresult
        self._encoding = cursor.connection.info.encoding
        self.adapters = cursor.adapters


class Description(Sequence[psycopg.Column]):
    """A cursor's description whose ``Column`` objects are made when first read.

    SQLAlchemy reads ``cursor.description`` after every statement that returns rows, but
    uses its columns only the first time it runs a statement (its result metadata is then
    cached with the compiled statement: sqlalchemy/engine/cursor.py, ``_init_metadata``).
    psycopg makes a ``Column`` for every column of every result (psycopg/_cursor_base.py,
    ``description``): for the routing job's wide rows, about a hundred a job, more CPU
    than some of its statements. Equal, column for column, to psycopg's own list
    (tests/integration/test_cursor.py)."""

    __slots__ = ("_result", "_count", "_columns")

    def __init__(self, cursor: psycopg.Cursor[Any], count: int) -> None:
        self._result, self._count = _Result(cursor), count
        self._columns: list[psycopg.Column] | None = None

    def _made(self) -> list[psycopg.Column]:
        if self._columns is None:
            result: Any = self._result  # read as a cursor by Column
            self._columns = [psycopg.Column(result, i) for i in range(self._count)]
        return self._columns

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...

    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...

    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        return self._made()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._made())

    def __repr__(self) -> str:
        return repr(self._made())


class Cursor(psycopg.Cursor[Any]):
    """psycopg's cursor, with a ``description`` whose columns are made when read (see
    ``Description``). The engine's connections make it their cursors (``create_app``:
    ``connect_args={"cursor_factory": Cursor}``, as SQLAlchemy's psycopg dialect documents
    for a cursor class of one's own)."""

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        # psycopg's own test (psycopg/_cursor_base.py): columns when the result has fields,
        # or when it says it returned rows (``SELECT ;``)
        result = self.pgresult
        if result and (result.nfields or result.status in _TUPLES):
            return Description(self, result.nfields)
        return None
