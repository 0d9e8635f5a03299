"""Owner lookup and audit queries at scale on PostgreSQL.

Builds (with generate_series) CONTACTS contacts with two identities each in CONTACTS/100
carteras, and AUDIT audit events over a year, then measures:
- resolving a phone written in any form (normalize + variants + lookup, as the routing job
  does) against a raw indexed point query on the stored E.164 value (target <= 2x);
- each audit filter of GET /api/audit, count and first page (target <= 100 ms); the count
  stops at 10 000 ("more than 10 000"), as the API's ``total_exact`` says. Besides the
  uniform events, 3 000 ``region`` events from 400 days ago: a rare and old resource type.

    .venv/bin/python bench/scale.py [CONTACTS] [AUDIT]      # defaults 1000000 1000000
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa

from bench.common import fresh_database, percentile, report, verdict
from service.app import create_app
from service.config import Config
from service.domain import audit
from service.domain.actor import system_actor
from service.domain.identity import PHONE, normalize_phone
from service.domain.intake import find_contact_id
from service.domain.messages import Identity
from service.extensions import db

BUILD = [
    "INSERT INTO teams (id, name, name_key, created_at, updated_at) "
    "SELECT g, 'Equipo ' || g, 'equipo ' || g, now(), now() FROM generate_series(1, 100) g",
    "INSERT INTO carteras (id, name, name_key, icon, team_id, active, owner_timeout_seconds, "
    "search_key, created_at, updated_at) SELECT g, 'Cartera ' || g, 'cartera ' || g, '💼', "
    "1 + g % 100, true, 0, 'cartera ' || g, now(), now() FROM generate_series(1, :carteras) g",
    "INSERT INTO contacts (id, name, cartera_id, search_key, created_at, updated_at) "
    "SELECT g, 'Cliente ' || g, 1 + g % :carteras, 'cliente ' || g, now(), now() "
    "FROM generate_series(1, :contacts) g",
    "INSERT INTO contact_identities (contact_id, kind, value, created_at) "
    "SELECT g, 'phone', '+5255' || lpad(g::text, 8, '0'), now() "
    "FROM generate_series(1, :contacts) g",
    "INSERT INTO contact_identities (contact_id, kind, value, created_at) "
    "SELECT g, 'email', 'cliente' || g || '@example.com', now() "
    "FROM generate_series(1, :contacts) g",
    "INSERT INTO audit_events (occurred_at, actor_user_id, actor_name, event, resource_type, "
    "resource_id, resource_name, related_name, related_id, search_key, before, after) "
    "SELECT now() - (g % 365) * interval '1 day' - (g % 86400) * interval '1 second', 1, "
    "'Coordinador ' || (g % 50), (ARRAY['created','updated','deleted','activated',"
    "'deactivated','contact_added','contact_removed','contact_moved','imported'])[1 + g % 9], "
    "(ARRAY['cartera','contact','team','agent'])[1 + g % 4], g % 100000, 'Recurso ' || g, "
    "'Cliente ' || g, g % 1000000, 'coordinador ' || (g % 50) || ' | recurso ' || g "
    "|| ' | cliente ' || g, NULL, '{}' FROM generate_series(1, :events) g",
    "INSERT INTO audit_events (occurred_at, actor_user_id, actor_name, event, resource_type, "
    "resource_id, resource_name, search_key, after) SELECT now() - interval '400 days' "
    "+ g * interval '1 minute', 1, 'Coordinador 1', 'created', 'region', g, 'Región ' || g, "
    "'coordinador 1 | region ' || g, '{}' FROM generate_series(1, 3000) g",
    "ANALYZE",
]


def timings(function, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    contacts = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    url = fresh_database("carteras_bench_scale")
    app = create_app(Config(database_url=url, secret_key="bench", log_level="ERROR"))
    params = {"contacts": contacts, "carteras": max(contacts // 100, 1), "events": events}
    with app.app_context():
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for statement in BUILD:
                conn.execute(sa.text(statement), params)
        build = time.perf_counter() - started
        session = db.session()
        rng = random.Random(7)
        picks = [rng.randint(1, contacts) for _ in range(2000)]
        forms = [f"+52 55 {n:08d}"[:7] + f" {n // 10000:04d} {n % 10000:04d}" for n in picks]
        raw_sql = sa.text(
            "SELECT contact_id FROM contact_identities WHERE kind = 'phone' AND value = :v"
        )
        numbers = iter(picks)
        raw = timings(
            lambda: session.execute(raw_sql, {"v": f"+5255{next(numbers):08d}"}).scalar(),
            len(picks),
        )

        written = iter(forms)

        def resolve() -> None:
            value = normalize_phone(next(written), "MX")
            assert find_contact_id(session, [Identity(PHONE, value, value)]) is not None

        ours = timings(resolve, len(forms))
        plan = (
            session.execute(
                sa.text(
                    "EXPLAIN SELECT kind, value, contact_id FROM contact_identities "
                    "WHERE value IN ('+525512345678')"
                )
            )
            .scalars()
            .all()
        )
        actor = system_actor("bench")
        tz = ZoneInfo("America/Mexico_City")
        now = datetime.now(UTC)
        queries = {
            "q (text)": audit.AuditQuery(q="cliente 4242"),
            "event": audit.AuditQuery(event="contact_moved"),
            "resource_type": audit.AuditQuery(resource_type="cartera"),
            "resource_type rare and old": audit.AuditQuery(resource_type="region"),
            "period today": audit.AuditQuery(period="today"),
            "period week": audit.AuditQuery(period="week"),
            "period month": audit.AuditQuery(period="month"),
            "period year": audit.AuditQuery(period="year"),
            "event + month": audit.AuditQuery(event="deactivated", period="month"),
        }
        audit_times = {
            name: percentile(
                timings(
                    lambda q=q: audit.search(
                        session, actor, q, now=now, tz=tz, page=1, per_page=50
                    ),
                    5,
                ),
                0.5,
            )
            for name, q in queries.items()
        }
        totals = {}
        for name, q in queries.items():
            found = audit.search(session, actor, q, now=now, tz=tz, page=1, per_page=50)
            totals[name] = f"{'' if found.total_exact else 'more than '}{found.total} events"
        session.rollback()
        db.engine.dispose()
    ratio = percentile(ours, 0.5) / percentile(raw, 0.5)
    lines = {
        "data": f"{contacts} contacts, {2 * contacts} identities, {params['carteras']} carteras, "
        f"{events} audit events (built in {build:.0f} s)",
        "raw point query p50": f"{percentile(raw, 0.5) * 1000:.3f} ms",
        "phone in any written form p50": f"{percentile(ours, 0.5) * 1000:.3f} ms "
        f"(p95 {percentile(ours, 0.95) * 1000:.3f} ms)",
        "ratio": f"{ratio:.2f} (target <= 2: {verdict(ratio <= 2)})",
        "plan": " / ".join(plan),
    }
    for name, seconds in audit_times.items():
        lines[f"audit {name}"] = (
            f"{seconds * 1000:.1f} ms ({verdict(seconds <= 0.1)}; {totals[name]})"
        )
    report("owner lookup and audit at scale (PostgreSQL)", lines)


if __name__ == "__main__":
    main()
