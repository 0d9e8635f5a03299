"""One test run, its own servers' namespaces: PostgreSQL databases and a Redis database named
after a per-run id, so two suites on one machine never wipe each other.

- PostgreSQL: `TEST_DATABASE_URL` names the server and the base name; each run uses
  `<base>_<run id>` (and `<base>_<run id>_<suffix>` for tests that need an empty database) and
  drops them at the end. Databases of runs whose process is gone are dropped at the start.
- Redis: `TEST_REDIS_URL` names the server; each run claims a free database number (1-15) with
  an expiring `SET NX` key in database 0 and releases it at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets

import redis
import sqlalchemy as sa

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes"}
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
_BASE_PG = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/carteras_test"
)
_BASE_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_CLAIM_KEY = "carteras-test:db:{}"
_CLAIM_SECONDS = 3 * 3600


def pg_url(suffix: str = "") -> str:
    """The URL of this run's PostgreSQL database (one per suffix)."""
    base = sa.make_url(_BASE_PG)
    name = f"{base.database}_{RUN_ID}" + (f"_{suffix}" if suffix else "")
    return base.set(database=name).render_as_string(hide_password=False)


def _pg_admin() -> sa.Engine:
    return sa.create_engine(
        sa.make_url(_BASE_PG).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_databases(only_dead: bool) -> None:
    """Drop this run's databases (or, with *only_dead*, those of runs whose process is gone)."""
    base = sa.make_url(_BASE_PG).database or "carteras_test"
    pattern = re.compile(rf"^{re.escape(base)}_(\d+)_[0-9a-f]{{6}}(_\w+)?$")
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            names = conn.scalars(sa.text("SELECT datname FROM pg_database")).all()
            for name in names:
                match = pattern.match(name)
                if not match:
                    continue
                mine = name.startswith(f"{base}_{RUN_ID}")
                if (only_dead and not _alive(int(match.group(1)))) or (not only_dead and mine):
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except sa.exc.OperationalError:
        pass  # no server: the fixtures that need it say so
    finally:
        admin.dispose()


def _claim_redis_db() -> str:
    base = _BASE_REDIS.rsplit("/", 1)[0] if re.search(r"/\d+$", _BASE_REDIS) else _BASE_REDIS
    with contextlib.suppress(redis.exceptions.RedisError):
        control = redis.Redis.from_url(f"{base}/0", socket_connect_timeout=1)
        try:
            for number in range(1, 16):
                if control.set(_CLAIM_KEY.format(number), RUN_ID, nx=True, ex=_CLAIM_SECONDS):
                    return f"{base}/{number}"
        finally:
            control.close()
    return f"{base}/15"  # unreachable or all taken: the real_redis fixture reports it


REDIS_URL = _claim_redis_db()


def release_redis_db() -> None:
    number = REDIS_URL.rsplit("/", 1)[1]
    with contextlib.suppress(redis.exceptions.RedisError):
        control = redis.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/0", socket_connect_timeout=1)
        try:
            if control.get(_CLAIM_KEY.format(number)) == RUN_ID.encode():
                redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
                control.delete(_CLAIM_KEY.format(number))
        finally:
            control.close()
