"""Webhook acknowledgement: signed WhatsApp messages posted at full speed to the service under
gunicorn (PostgreSQL + Redis, the Procfile's web settings), against a no-op Flask view under
the same gunicorn settings, in the same run.

Targets: our rate >= 0.5 x the no-op rate, and p99 <= 25 ms.

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
    free_port,
    fresh_database,
    gunicorn,
    load,
    percentile,
    report,
    verdict,
)

SECRET = "bench-app-secret"
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
    per_client = 20_000
    batches = [[signed(c * per_client + i) for i in range(per_client)] for c in range(CLIENTS)]
    env = {
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench",
        "WHATSAPP_APP_SECRET": SECRET,
        "CARTERAS_LOG_LEVEL": "ERROR",
    }
    results = {}
    for name, app in (("no-op view", "bench.noop_app:app"), ("carteras", "wsgi:app")):
        port = free_port()
        server = gunicorn(app, port, env)
        try:
            load(port, "/webhooks/whatsapp", [b[:200] for b in batches], 2.0)  # warm up
            rate, latencies = load(port, "/webhooks/whatsapp", batches, seconds)
        finally:
            server.terminate()
            server.wait(timeout=10)
        results[name] = (rate, percentile(latencies, 0.5), percentile(latencies, 0.99))
    ours, baseline = results["carteras"], results["no-op view"]
    ratio = ours[0] / baseline[0]
    report(
        "webhook ack (gunicorn, 2 sync workers, PostgreSQL + Redis)",
        {
            "no-op rate": f"{baseline[0]:.0f} req/s (p50 {baseline[1] * 1000:.1f} ms, "
            f"p99 {baseline[2] * 1000:.1f} ms)",
            "carteras rate": f"{ours[0]:.0f} req/s (p50 {ours[1] * 1000:.1f} ms, "
            f"p99 {ours[2] * 1000:.1f} ms)",
            "ratio to no-op": f"{ratio:.2f} (target >= 0.50: {verdict(ratio >= 0.5)})",
            "p99": f"{ours[2] * 1000:.1f} ms (target <= 25 ms: {verdict(ours[2] <= 0.025)})",
            "clients": f"{CLIENTS} processes, {seconds:.0f} s each, new connection per request",
        },
    )


if __name__ == "__main__":
    main()
