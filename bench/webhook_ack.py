"""Webhook acknowledgement: signed WhatsApp messages posted at full speed to the service under
gunicorn (PostgreSQL + Redis, the Procfile's web settings), against a no-op Flask view under
the same gunicorn settings, in the same run: with a new connection per request, then with
connections kept alive, with the web workers' CPU time per request (all their threads; the
figure to compare when other work shares the machine). Then the web workers' resident
memory. The floor (bench/floor_app.py: the signature, the JSON and the same durable insert
on raw psycopg, nothing else) runs under the same settings too, to show how much of the
no-op's rate any webhook that stores its message before answering can keep on this machine.

Targets: our rate >= 0.5 x the no-op rate, p99 <= 25 ms, a web worker < 150 MB after 10,000
webhooks.

    .venv/bin/python bench/webhook_ack.py [SECONDS]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.common import (
    REDIS_URL,
    children,
    cpu_seconds,
    free_port,
    fresh_database,
    gunicorn,
    load,
    percentile,
    procfile_settings,
    report,
    rss_mb,
    verdict,
)

SECRET = "bench-app-secret"
MEMORY_AFTER = 10_000
CLIENTS = 4


def signed(n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "1065",
                                },
                                "contacts": [
                                    {"profile": {"name": f"Cliente {n}"}, "wa_id": f"52155{n:08d}"}
                                ],
                                "messages": [
                                    {
                                        "from": f"52155{n:08d}",
                                        "id": f"wamid.bench{n}",
                                        "timestamp": "1763809200",
                                        "type": "text",
                                        "text": {"body": "Hola"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    database = fresh_database("carteras_bench_ack")
    per_client = 25_000
    batches = [[signed(c * per_client + i) for i in range(per_client)] for c in range(CLIENTS)]
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench",
        "WHATSAPP_APP_SECRET": SECRET,
        "CARTERAS_LOG_LEVEL": "ERROR",
    }
    results: dict[tuple[str, str], tuple[float, float, float]] = {}
    # CPU of the web workers per request: steadier than rates on a shared machine
    worker_cpu: dict[tuple[str, str], float] = {}
    served, memory = 0, 0.0
    apps = (
        ("no-op view", "bench.noop_app:app"),
        ("floor", "bench.floor_app:app"),
        ("carteras", "wsgi:app"),
    )
    for name, app in apps:
        port = free_port()
        # each app that stores starts on an empty table of its own (the same messages are posted)
        own = {"DATABASE_URL": fresh_database("carteras_bench_floor")} if name == "floor" else {}
        server = gunicorn(app, port, {**env, **own})
        try:
            load(port, "/webhooks/whatsapp", [b[:200] for b in batches], 2.0)  # warm up
            sent = 200 * CLIENTS
            for mode, keep_alive in (("new connection", False), ("keep-alive", True)):
                # each run posts messages not posted before (distinct ids: all stored)
                todo = [b[sent // CLIENTS :] for b in batches]
                workers = children(server.pid)
                cpu_before = sum(cpu_seconds(pid) for pid in workers)
                rate, latencies = load(
                    port, "/webhooks/whatsapp", todo, seconds, keep_alive=keep_alive
                )
                cpu = sum(cpu_seconds(pid) for pid in workers) - cpu_before
                sent += len(latencies) + CLIENTS  # a client may stop between two batches
                results[(name, mode)] = (
                    rate,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.99),
                )
                worker_cpu[(name, mode)] = cpu / max(len(latencies), 1)
            if name == "carteras":
                while sent < MEMORY_AFTER:  # the memory figure is read after 10,000 webhooks
                    todo = [b[sent // CLIENTS :] for b in batches]
                    _rate, more = load(port, "/webhooks/whatsapp", todo, 5.0, keep_alive=True)
                    sent += len(more) + CLIENTS
                served = sent
                memory = max(rss_mb(pid) for pid in children(server.pid))
        finally:
            server.terminate()
            server.wait(timeout=60)  # gthread workers finish their kept-alive connections
    lines: dict[str, object] = {"settings": " ".join(procfile_settings("web"))}
    for mode in ("new connection", "keep-alive"):
        ours, baseline = results[("carteras", mode)], results[("no-op view", mode)]
        floor = results[("floor", mode)]
        ratio = ours[0] / baseline[0]
        lines[f"{mode}: no-op"] = (
            f"{baseline[0]:.0f} req/s (p50 {baseline[1] * 1000:.1f} ms, "
            f"p99 {baseline[2] * 1000:.1f} ms)"
        )
        lines[f"{mode}: carteras"] = (
            f"{ours[0]:.0f} req/s (p50 {ours[1] * 1000:.1f} ms, p99 {ours[2] * 1000:.1f} ms)"
        )
        lines[f"{mode}: ratio"] = f"{ratio:.2f} (target >= 0.50: {verdict(ratio >= 0.5)})"
        lines[f"{mode}: floor (signature, JSON, durable insert; nothing else)"] = (
            f"{floor[0]:.0f} req/s = {floor[0] / baseline[0]:.2f} x the no-op; "
            f"carteras = {ours[0] / floor[0]:.2f} x the floor"
        )
        lines[f"{mode}: p99"] = (
            f"{ours[2] * 1000:.1f} ms (target <= 25 ms: {verdict(ours[2] <= 0.025)})"
        )
        lines[f"{mode}: web worker CPU per request"] = (
            f"no-op {worker_cpu[('no-op view', mode)] * 1000:.2f} ms, "
            f"floor {worker_cpu[('floor', mode)] * 1000:.2f} ms, "
            f"carteras {worker_cpu[('carteras', mode)] * 1000:.2f} ms"
        )
    lines["web process memory"] = (
        f"{memory:.0f} MB resident after {served:,} webhooks "
        f"(target < 150 MB after 10,000: {verdict(memory < 150 and served >= MEMORY_AFTER)})"
    )
    lines["clients"] = f"{CLIENTS} processes, {seconds:.0f} s per mode"
    report("webhook ack (gunicorn with the Procfile's web settings, PostgreSQL + Redis)", lines)


if __name__ == "__main__":
    main()
