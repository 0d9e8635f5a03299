"""Helpers shared by the benchmarks: a fresh PostgreSQL database, gunicorn processes,
a loopback load generator, percentiles."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def fresh_database(name: str) -> str:
    """Drop and create *name*, migrate it, return its URL."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "CARTERAS_LOG_LEVEL": "ERROR"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def procfile_settings(process: str = "web") -> list[str]:
    """The gunicorn options of the Procfile's *process* line, without its bind and app."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() != process:
            continue
        words = shlex.split(command)
        assert words[0] == "gunicorn", line
        options, skip = [], False
        for word in words[1:-1]:  # the last word is the app
            if skip:
                skip = False
            elif word == "--bind":
                skip = True
            elif not word.startswith("--bind="):
                options.append(word)
        return options
    raise RuntimeError(f"no {process!r} line in the Procfile")


def gunicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """*app* under the Procfile's web settings, on loopback; waits until it answers."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *procfile_settings("web"),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # never an unread pipe: a full one blocks the server
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn {app} did not start")


def _hammer(
    args: tuple[int, str, list[tuple[bytes, dict[str, str]]], float, bool],
) -> list[float]:
    port, path, requests_, seconds, keep_alive = args
    latencies: list[float] = []
    began = time.monotonic()
    stop = began + seconds
    conn: http.client.HTTPConnection | None = None
    for body, headers in requests_:
        if time.monotonic() >= stop:
            break
        started = time.perf_counter()
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if not keep_alive or response.will_close:
            conn.close()
            conn = None
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        latencies.append(time.perf_counter() - started)
    if conn is not None:
        conn.close()
    return [time.monotonic() - began, *latencies]  # its own time first


def load(
    port: int,
    path: str,
    batches: Sequence[list[tuple[bytes, dict[str, str]]]],
    seconds: float,
    *,
    keep_alive: bool = False,
) -> tuple[float, list[float]]:
    """Post each batch from its own process for *seconds*, with a new connection per request
    or one kept alive per client; (requests/s, latencies)."""
    with multiprocessing.Pool(len(batches)) as pool:
        results = pool.map(_hammer, [(port, path, batch, seconds, keep_alive) for batch in batches])
    # the clients' own time (handing them their requests is not part of it)
    elapsed = max(part[0] for part in results)
    latencies = [x for part in results for x in part[1:]]
    return len(latencies) / elapsed, latencies


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(title: str, lines: dict[str, object]) -> None:
    print(f"== {title}")
    for key, value in lines.items():
        print(f"   {key}: {value}")
    print(json.dumps({"benchmark": title, **{k: str(v) for k, v in lines.items()}}))


def rss_mb(pid: int) -> float:
    """Resident memory of process *pid*, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of *pid* (gunicorn's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
