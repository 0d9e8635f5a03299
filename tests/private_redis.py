"""A redis-server of one test (or benchmark) alone on its own port, stopped and started
again on the same port to play a Redis restart that keeps nothing. Never the shared server."""

from __future__ import annotations

import subprocess
import time

import redis


class PrivateRedis:
    """A redis-server of this test alone, stopped and started again on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start it and wait for it; False when its port is taken (it exits at once)."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return True
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None:
                    return False
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
