"""A real Redis for queue tests, and real `rq` worker processes run like the Procfile's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import PG_URL, unavailable
from tests.isolation import REDIS_URL

ROOT = Path(__file__).resolve().parents[1]
WORKER = [
    sys.executable,
    "-m",
    "flask",
    "--app",
    "wsgi",
    "worker",
    "--burst",
    "--sweep-every",
    "0",
    "routing",
]


@pytest.fixture
def real_redis():
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable("Redis", str(exc))
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def worker_env(backend: Any, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the test database and Redis."""
    database = f"sqlite:///{backend.file}" if backend.name == "sqlite" else PG_URL
    return {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test",
        "CARTERAS_LOG_LEVEL": "WARNING",
        **extra,
    }


def run_worker(backend: Any, **extra: str) -> subprocess.CompletedProcess[str]:
    """One burst of a real worker process; fails the test if the worker fails."""
    done = subprocess.run(
        WORKER,
        cwd=ROOT,
        env=worker_env(backend, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def rocketchat_env(rc: Any) -> dict[str, str]:
    return {
        "ROCKETCHAT_URL": rc.url,
        "ROCKETCHAT_USER_ID": rc.user_id,
        "ROCKETCHAT_AUTH_TOKEN": rc.auth_token,
    }
