"""A real Redis for queue tests, and real `rq` worker processes run like the Procfile's."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import PG_URL, unavailable
from tests.isolation import REDIS_URL
from tests.private_redis import PrivateRedis

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


# ---- long-running workers on a private Redis (tests/faults/test_fallback_race.py) ----------
SERVE = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "routing"]


def low_ports() -> list[int]:
    """Ports below the kernel's ephemeral range, shuffled: bind(0) and outgoing connections
    never take these, so a private server started on one meets nobody else's."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = list(range(max(1024, low - 8000), low))
    random.shuffle(ports)
    return ports


@contextlib.contextmanager
def private_redis_server() -> Iterator[PrivateRedis]:
    """A redis-server of the calling test alone: no other test's queues, scheduled jobs,
    scheduler locks or workers can be in it (the shared per-run database may hold a killed
    worker's scheduler lock for a minute)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    for port in low_ports()[:20]:
        server = PrivateRedis(port)
        if server.start():
            break
    else:
        pytest.fail("no free port for a private redis-server")
    try:
        yield server
    finally:
        server.stop()


class ServingWorker:
    """A long-running `flask --app wsgi worker routing` (no --burst: with its scheduler), its
    log in a file; stopped with SIGTERM (warm shutdown), killed with its group if it hangs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.output = log.open("wb")
        self.stopping = False
        self.process = subprocess.Popen(
            SERVE,
            cwd=ROOT,
            env={**env, "CARTERAS_LOG_LEVEL": "INFO"},
            stdout=subprocess.DEVNULL,
            stderr=self.output,
            start_new_session=True,
        )

    def lines(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]

    def request_stop(self) -> None:
        """SIGTERM once (a second one would be a cold shutdown)."""
        if not self.stopping and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.stopping = True

    def stop(self) -> int:
        """Request a warm shutdown and wait for it; its exit code."""
        try:
            self.request_stop()
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                return self.process.wait(timeout=10)
        finally:
            self.output.close()


def registered_workers(url: str) -> int:
    connection = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    try:
        return int(connection.scard("rq:workers"))
    except redis.exceptions.ConnectionError:
        return 0
    finally:
        connection.close()
