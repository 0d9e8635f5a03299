"""Soak: signed WhatsApp messages from many customers through the Procfile's processes (gunicorn
web, `flask --app wsgi worker`) on PostgreSQL and a Redis of its own, to a fake Rocket.Chat,
while a worker is SIGKILLed (and replaced), Redis restarts empty and Rocket.Chat answers 500
to a share of calls; measured against the same run's fault-free pass.

Passes (same load each: K customers x M messages, each customer's in order with increasing
provider timestamps, plus redeliveries of earlier messages):
  scale-1  fault-free, sent at full speed with no worker running, then drained by 1 worker:
           its throughput (first to last message shown), the web's speed left out
  scale-2  the same, drained by 2 workers: what the second worker adds
  clean    fault-free, N workers, paced: the latency baseline
  faults   as clean, with every fault

Goals (the faults pass): 0 lost, 0 shown twice, 0 order inversions; settled within 90 s of
the last webhook; p95 latency (webhook acknowledged -> message stored in Rocket.Chat)
<= 3 x the clean pass's; and scale-2 throughput >= 1.7 x scale-1's.

Loopback only, bounded in time (--max-seconds); a private database (created and dropped)
and a private redis-server (--save '' --appendonly no) on free ports.

    .venv/bin/python bench/soak.py [--customers 50] [--messages 5] [--workers 2] ...
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa

from bench.common import PG_ADMIN, ROOT, free_port, fresh_database, percentile, report, verdict
from tests import samples
from tests.private_redis import PrivateRedis
from tests.webhooks.conftest import sign_whatsapp, whatsapp_text

TERMINAL = {"processed", "failed", "skipped"}
SENDERS = 8  # client threads; each owns a share of the customers and sends theirs in order


# ---- a fake Rocket.Chat in a process of its own --------------------------------------------
def _serve_fake(control: Any) -> None:
    """tests/fake_rocketchat.py's server, plus a rate of 500s answered before the call is
    carried out; commands over *control*: ("error_rate", x), ("messages",), ("stop",)."""
    from flask import request

    from tests.fake_rocketchat import FakeRocketChat, _error

    class SoakRocketChat(FakeRocketChat):
        error_rate = 0.0
        dice = random.Random(7)

        def _gate(self) -> Any:
            refused = super()._gate()
            if refused is None and self.error_rate and self.dice.random() < self.error_rate:
                return _error(500, f"soak: {request.path}")
            return refused

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it
    with SoakRocketChat(API_Enable_Rate_Limiter=False) as fake:
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_agent("u-marta", "marta", online=True)
        fake.add_department("dep-norte", "Norte", agents=["u-luis", "u-marta"])
        fake.add_custom_field("cartera", "Cartera", scope="room")
        control.send((fake.url, fake.user_id, fake.auth_token))
        while True:
            command = control.recv()
            if command[0] == "stop":
                return
            if command[0] == "error_rate":
                fake.error_rate = command[1]
                control.send(None)
            elif command[0] == "messages":
                with fake._lock:
                    control.send([(m["msg"], m["ts"]) for m in fake.messages])


class Fake:
    def __init__(self) -> None:
        self.control, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve_fake, args=(child,), daemon=True
        )
        self.process.start()
        self.url, self.user_id, self.token = self.control.recv()
        self.lock = threading.Lock()

    def ask(self, *command: Any) -> Any:
        with self.lock:
            self.control.send(command)
            return None if command[0] == "stop" else self.control.recv()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop")
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# ---- Redis, web and workers ----------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


class Process:
    """A Procfile process on loopback, its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.output = log.open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.output,
            stderr=self.output,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL it and its children (an rq work-horse, the scheduler)."""
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.output.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self.output.close()


# ---- the load --------------------------------------------------------------------------------
@dataclass
class Pass:
    name: str
    workers: int
    rate: float | None  # messages per second in all; None: as fast as the web answers
    faults: bool = False
    held: bool = False  # no worker runs while sending; then *workers* drain the queue
    acked: dict[tuple[int, int], float] = field(default_factory=dict)
    duplicates_sent: int = 0
    refused: int = 0
    first_sent: float = 0.0
    last_ack: float = 0.0
    settled_at: float | None = None
    shown: list[tuple[int, int, float]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # fault name -> seconds from start
    attempts: dict[tuple[int, int], int] = field(default_factory=dict)  # tries of each row

    def text(self, customer: int, seq: int) -> str:
        return f"soak {self.name} c{customer:04d} m{seq:03d}"


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.redis = PrivateRedis(free_port())
        self.fake: Fake | None = None
        self.web: Process | None = None
        self.workers: list[Process] = []
        self.database: str | None = None
        self.db_name = f"carteras_soak_{os.getpid()}"
        self.port = free_port()
        self.engine: sa.Engine | None = None
        self.customer_base = 0

    # processes
    def env(self) -> dict[str, str]:
        assert self.database
        assert self.fake
        return {
            "DATABASE_URL": self.database,
            "REDIS_URL": self.redis.url,
            "SECRET_KEY": "soak",
            "WHATSAPP_APP_SECRET": samples.WHATSAPP_SECRET,
            "ROCKETCHAT_URL": self.fake.url,
            "ROCKETCHAT_USER_ID": self.fake.user_id,
            "ROCKETCHAT_AUTH_TOKEN": self.fake.token,
            "CARTERAS_LOG_LEVEL": self.args.log_level,
        }

    def start(self) -> None:
        self.fake = Fake()
        if not self.redis.start():
            raise RuntimeError(f"redis-server could not take port {self.redis.port}")
        self.database = fresh_database(self.db_name)
        self.engine = sa.create_engine(self.database)
        self.web = Process(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--log-level", "warning"]
            + ["--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            {**self.env(), "CARTERAS_LOG_LEVEL": "ERROR"},
            self.work / "web.log",
        )
        deadline = time.monotonic() + 30
        while not self._answers():
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start; see " + str(self.work / "web.log"))
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def worker(self) -> Process:
        n = len(self.workers)
        process = Process(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
            self.env(),
            self.work / f"worker-{n}.log",
        )
        self.workers.append(process)
        return process

    def set_workers(self, count: int) -> None:
        alive = [w for w in self.workers if w.process.poll() is None]
        for extra in alive[count:]:
            extra.stop()
        for _ in range(count - min(len(alive), count)):
            self.worker()
        time.sleep(2.0)  # registered and listening

    def stop(self) -> None:
        for process in [*self.workers, *([self.web] if self.web else [])]:
            with contextlib.suppress(Exception):
                process.stop()
        self.redis.stop()
        if self.fake:
            self.fake.stop()
        if self.engine is not None:
            self.engine.dispose()
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        admin.dispose()

    # one pass
    def run(self, spec: Pass) -> Pass:
        args = self.args
        self.set_workers(0 if spec.held else spec.workers)
        customers = [self.customer_base + c for c in range(args.customers)]
        self.customer_base += args.customers
        spec.first_sent = time.time()
        planned = args.customers * args.messages / spec.rate if spec.rate else None
        faults = None
        if spec.faults:
            assert self.fake
            assert planned
            self.fake.ask("error_rate", args.error_rate)
            faults = threading.Thread(target=self._faults, args=(spec, planned), daemon=True)
            faults.start()
        threads = [
            threading.Thread(target=self._send, args=(spec, customers[s::SENDERS]), daemon=True)
            for s in range(SENDERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if faults is not None:
            faults.join()
        spec.last_ack = max(spec.acked.values(), default=time.time())
        if spec.held:
            self.set_workers(spec.workers)
        if spec.faults and self.fake and not args.errors_after_last:
            self.fake.ask("error_rate", 0.0)
        self._settle(spec)
        if spec.faults and self.fake:
            self.fake.ask("error_rate", 0.0)
        return spec

    def _faults(self, spec: Pass, planned: float) -> None:
        """A worker SIGKILLed at 30 % of the sending, and replaced; Redis restarted at 60 %."""
        time.sleep(planned * 0.3)
        victim = next(w for w in self.workers if w.process.poll() is None)
        victim.kill()
        spec.marks["kill"] = time.time() - spec.first_sent
        self.worker()
        spec.events.append(f"{spec.marks['kill']:.1f} s: worker SIGKILLed, replaced")
        time.sleep(planned * 0.3)
        spec.marks["redis"] = time.time() - spec.first_sent
        self.redis.stop()
        time.sleep(1.0)
        self.redis.start()
        spec.events.append(f"{time.time() - spec.first_sent:.1f} s: Redis restarted empty")

    def _send(self, spec: Pass, customers: list[int]) -> None:
        """Each customer's messages in order (the next after the previous was acknowledged),
        paced; about one in ten is delivered again after the next one (a redelivery)."""
        dice = random.Random(customers[0] if customers else 0)
        share = (spec.rate / SENDERS) if spec.rate else None
        base = int(time.time())
        again: dict[int, tuple[bytes, dict[str, str]]] = {}
        count = 0
        for seq in range(self.args.messages):
            for customer in customers:
                if share:
                    wait = spec.first_sent + count / share - time.time()
                    if wait > 0:
                        time.sleep(wait)
                count += 1
                phone = f"52155{customer:08d}"
                body = whatsapp_text(
                    f"wamid.soak-{spec.name}-{customer}-{seq}",
                    sender=phone,
                    text=spec.text(customer, seq),
                    name=f"Cliente {customer}",
                )
                body = body.replace(b'"1763809200"', f'"{base + seq}"'.encode())
                headers = {"Content-Type": "application/json", **sign_whatsapp(body)}
                spec.acked[(customer, seq)] = self._post(spec, body, headers)
                if customer in again:  # the previous message, delivered once more
                    self._post(spec, *again.pop(customer))
                    spec.duplicates_sent += 1
                if dice.random() < self.args.duplicates:
                    again[customer] = (body, headers)
        for body, headers in again.values():
            self._post(spec, body, headers)
            spec.duplicates_sent += 1

    def _post(self, spec: Pass, body: bytes, headers: dict[str, str]) -> float:
        """Post until acknowledged (as WhatsApp retries); the time of the acknowledgement."""
        for _ in range(60):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/webhooks/whatsapp", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return time.time()
            except OSError:
                pass
            spec.refused += 1
            time.sleep(0.5)
        raise RuntimeError("a webhook was never acknowledged")

    def _settle(self, spec: Pass) -> None:
        """Wait until every row of the pass is processed or failed and Rocket.Chat shows no
        new message for a moment; bounded by --settle-timeout."""
        assert self.engine
        assert self.fake
        prefix = f"wamid.soak-{spec.name}-%"
        deadline = spec.last_ack + self.args.settle_timeout
        quiet_since, last_count = time.time(), -1
        query = sa.text(
            "SELECT status, count(*) FROM inbox_messages WHERE external_id LIKE :p GROUP BY status"
        )
        while time.time() < deadline:
            with self.engine.connect() as conn:
                counts = dict(conn.execute(query, {"p": prefix}).all())
            shown = self._shown(spec)
            if len(shown) != last_count:
                quiet_since, last_count = time.time(), len(shown)
            done = sum(n for status, n in counts.items() if status in TERMINAL)
            if done == len(spec.acked) == sum(counts.values()):
                spec.settled_at = quiet_since
                break
            time.sleep(0.5)
        spec.shown = self._shown(spec)
        with self.engine.connect() as conn:
            spec.events.append(f"rows: {dict(conn.execute(query, {'p': prefix}).all())}")
            # what the rows left behind were doing, and the last error they kept
            left = sa.text(
                "SELECT status, substr(coalesce(last_error, ''), 1, 70), count(*) "
                "FROM inbox_messages WHERE external_id LIKE :p AND status NOT IN "
                "('processed', 'failed', 'skipped') GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 4"
            )
            for status, error, n in conn.execute(left, {"p": prefix}):
                spec.events.append(f"left {status} x{n}: {error or '-'}")
            tries = sa.text(
                "SELECT external_id, attempts FROM inbox_messages WHERE external_id LIKE :p"
            )
            for external_id, attempts in conn.execute(tries, {"p": prefix}):
                customer, seq = external_id.rsplit("-", 2)[1:]
                spec.attempts[(int(customer), int(seq))] = attempts

    def _shown(self, spec: Pass) -> list[tuple[int, int, float]]:
        assert self.fake
        marker = f"soak {spec.name} "
        found = []
        for text, ts in self.fake.ask("messages"):
            if text.startswith(marker):
                customer, seq = text[len(marker) :].split()
                found.append((int(customer[1:]), int(seq[1:]), ts))
        return found


# ---- figures -----------------------------------------------------------------------------
def figures(spec: Pass) -> dict[str, Any]:
    seen: dict[tuple[int, int], int] = defaultdict(int)
    first: dict[tuple[int, int], float] = {}
    highest: dict[int, int] = {}
    inversions = 0
    for customer, seq, ts in spec.shown:
        seen[(customer, seq)] += 1
        first.setdefault((customer, seq), ts)
        if seq < highest.get(customer, -1):
            inversions += 1  # shown after a later message of the same customer
        highest[customer] = max(highest.get(customer, -1), seq)
    latencies = [first[key] - acked for key, acked in spec.acked.items() if key in first]
    posted = [ts for _, _, ts in spec.shown]
    if spec.held:  # the drain: from the first message shown to the last
        span = (max(posted) - min(posted)) if len(posted) > 1 else 0.0
        count = max(len(first) - 1, 0)
    else:
        span = (max(posted) - spec.first_sent) if posted else 0.0
        count = len(first)
    return {
        "acknowledged": len(spec.acked),
        "duplicates sent": spec.duplicates_sent,
        "lost": sum(1 for key in spec.acked if key not in seen),
        "shown twice": sum(n - 1 for n in seen.values() if n > 1),
        "inversions": inversions,
        "settle": (spec.settled_at - spec.last_ack) if spec.settled_at else None,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "throughput": count / span if span else 0.0,
    }


def slow(spec: Pass, limit: float) -> str:
    """Why messages took longer than *limit*: tried more than once (a Rocket.Chat error, a
    worker killed mid-job, a retry lost with Redis), held behind an earlier message of their
    conversation that was, or neither; and when they were acknowledged, next to the faults."""
    first: dict[tuple[int, int], float] = {}
    for customer, seq, ts in spec.shown:
        first.setdefault((customer, seq), ts)
    late = sorted(
        (first[key] - acked, key, acked - spec.first_sent)
        for key, acked in spec.acked.items()
        if key in first and first[key] - acked > limit
    )
    if not late:
        return f"none over {limit:.2f} s"
    causes: dict[str, int] = defaultdict(int)
    for _, (customer, seq), _ in late:
        if spec.attempts.get((customer, seq), 1) > 1:
            causes["tried again"] += 1
        elif any(spec.attempts.get((customer, s), 1) > 1 for s in range(seq)):
            causes["behind one tried again"] += 1
        else:
            causes["first try"] += 1
    marks = ", ".join(f"{name} at {at:.1f} s" for name, at in spec.marks.items())
    worst = ", ".join(
        f"{took:.1f} s (acked at {at:.1f} s, c{key[0]} m{key[1]}, "
        f"{spec.attempts.get(key, 1)} tries)"
        for took, key, at in late[-8:]
    )
    return f"{len(late)} over {limit:.2f} s: {dict(causes)}; worst: {worst}; {marks or 'no faults'}"


def line(spec: Pass, f: dict[str, Any]) -> str:
    settle = f"{f['settle']:.1f} s" if f["settle"] is not None else "NOT SETTLED"
    return (
        f"{f['acknowledged']} acked (+{f['duplicates sent']} redelivered), lost {f['lost']}, "
        f"shown twice {f['shown twice']}, inversions {f['inversions']}, settled {settle} "
        f"after the last webhook, latency p50 {f['p50']:.2f} s p95 {f['p95']:.2f} s, "
        f"{f['throughput']:.1f} msg/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5, help="per customer")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s when paced")
    parser.add_argument("--error-rate", type=float, default=0.10)
    parser.add_argument("--duplicates", type=float, default=0.10, help="share redelivered")
    parser.add_argument("--settle-timeout", type=float, default=240.0)
    parser.add_argument("--errors-after-last", action="store_true", help="keep 500s to the end")
    parser.add_argument("--max-seconds", type=int, default=1500, help="abort the whole run")
    parser.add_argument("--log-level", default="WARNING", help="of the worker processes")
    parser.add_argument("--keep-logs", help="a folder for the processes' logs, kept")
    parser.add_argument(
        "--no-scale", action="store_true", help="only the clean and faults passes (latency)"
    )
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed")

    def abort(*_: object) -> None:
        raise TimeoutError(f"soak over --max-seconds={args.max_seconds}")

    signal.signal(signal.SIGALRM, abort)
    signal.alarm(args.max_seconds)
    with tempfile.TemporaryDirectory(prefix="carteras-soak-") as folder:
        if args.keep_logs:
            folder = args.keep_logs
            os.makedirs(folder, exist_ok=True)
        soak = Soak(args, Path(folder))
        try:
            soak.start()
            passes = [
                *(
                    []
                    if args.no_scale
                    else [
                        soak.run(Pass("scale1", 1, None, held=True)),
                        soak.run(Pass("scale2", 2, None, held=True)),
                    ]
                ),
                soak.run(Pass("clean", args.workers, args.rate)),
                soak.run(Pass("faults", args.workers, args.rate, faults=True)),
            ]
        finally:
            signal.alarm(0)
            soak.stop()
    got = {p.name: figures(p) for p in passes}
    got_passes = {p.name: p for p in passes}
    clean, faults = got["clean"], got["faults"]
    one = got["scale1"]["throughput"] if "scale1" in got else 0.0
    two = got["scale2"]["throughput"] if "scale2" in got else 0.0
    settled = faults["settle"] is not None and faults["settle"] <= 90
    p95_ok = faults["p95"] <= 3 * clean["p95"]
    lines: dict[str, object] = {p.name: line(p, got[p.name]) for p in passes}
    for done in passes:
        lines[f"{done.name} events"] = "; ".join(done.events)
    lines["faults, slower than 3 x clean p95"] = slow(got_passes["faults"], 3 * clean["p95"])
    lines["0 lost"] = verdict(faults["lost"] == 0 and clean["lost"] == 0)
    lines["0 shown twice"] = verdict(faults["shown twice"] == 0 and clean["shown twice"] == 0)
    lines["0 order inversions"] = verdict(faults["inversions"] == 0 and clean["inversions"] == 0)
    lines["settled within 90 s of the last webhook"] = verdict(settled)
    lines["p95 with faults <= 3 x clean"] = (
        f"{faults['p95']:.2f} s vs {clean['p95']:.2f} s: {verdict(p95_ok)}"
    )
    added = (two - one) / one if one else 0.0
    if not args.no_scale:
        lines["second worker adds >= 0.7 x the first"] = (
            f"{one:.1f} -> {two:.1f} msg/s, adds {added:.2f} x: {verdict(added >= 0.7)}"
        )
    lines["load"] = (
        f"{args.customers} customers x {args.messages} messages, {args.duplicates:.0%} "
        f"redelivered, paced {args.rate:g}/s, Rocket.Chat 500 on {args.error_rate:.0%} of calls"
    )
    report(
        "soak (gunicorn web x2, flask workers, PostgreSQL, private Redis, fake Rocket.Chat)", lines
    )


if __name__ == "__main__":
    main()
