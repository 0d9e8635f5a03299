"""Flask extensions, created unbound; ``create_app`` binds them.

Socket.IO is not here: ``create_app`` makes one per app (a shared instance would be
re-bound by every app built in the same process)."""

import select
from typing import Any

import psycopg
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
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
