"""Benchmark: CSV import of N contacts (default 100 000) against raw bulk-insert baselines.

All run in this process, on a fresh database each: on PostgreSQL (the target's; a private
database on BENCH_PG_ADMIN's server), then on SQLite (the embedded default, for
information); BENCH_DATABASE_URL runs one given database instead. The baseline inserts the
same, already-normalized rows with SQLAlchemy's plain multi-row INSERT; the floor writes them
with the import's own bulk writer (service/domain/bulk.py: COPY on PostgreSQL), i.e. "just
writing the data".
Prints rows/s, the ratios, and PASS/FAIL against the target (100k rows in <= 10 s).

    .venv/bin/python bench/import_contacts.py [ROWS]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import fresh_database
from service.app import create_app
from service.config import Config
from service.domain import bulk, carteras, imports, org
from service.domain.actor import system_actor
from service.extensions import db
from service.models import Contact, ContactIdentity
from service.models.types import utcnow

TARGET_SECONDS = 10.0


def fresh_app(url: str):
    """The app on *url* emptied and migrated (a file name for SQLite: a new file each)."""
    if url.startswith("sqlite:///"):
        url = f"{url.removesuffix('.db')}-{time.time_ns()}.db"
    app = create_app(Config(database_url=url, secret_key="bench", testing=True, log_level="ERROR"))
    with app.app_context():
        if url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        upgrade()
    return app


def csv_bytes(rows: int) -> bytes:
    lines = ["name,phones,emails,external_ref,company,cartera"]
    for i in range(rows):
        cartera = "Premium" if i % 3 == 0 else ""
        lines.append(
            f"Cliente {i},55 {1000 + i // 10000:04d} {i % 10000:04d},c{i}@example.com,"
            f"REF-{i},Empresa {i % 100},{cartera}"
        )
    return ("\n".join(lines) + "\n").encode()


def run_import(app, data: bytes) -> float:
    actor = system_actor("bench")
    with app.app_context():
        team = org.create_team(db.session(), actor, {"name": "Norte"})
        carteras.create_cartera(
            db.session(), actor, {"name": "Premium", "icon": "💎", "team_id": team.id}
        )
        db.session.commit()
        started = time.perf_counter()
        report = imports.import_contacts(db.session(), actor, imports.read_csv(data), region="MX")
        db.session.commit()
        elapsed = time.perf_counter() - started
        assert report.created == report.rows, report
    return elapsed


def _contact_rows(rows: int, now) -> list[dict]:
    return [
        {
            "name": f"Cliente {i}",
            "external_ref": f"REF-{i}",
            "company": f"Empresa {i % 100}",
            "search_key": f"cliente {i}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(rows)
    ]


def _identity_rows(ids: list[int], now) -> list[dict]:
    return [
        {"contact_id": cid, "kind": kind, "value": value, "created_at": now}
        for i, cid in enumerate(ids)
        for kind, value in (
            ("phone", f"+5255{1000 + i // 10000:04d}{i % 10000:04d}"),
            ("email", f"c{i}@example.com"),
        )
    ]


def run_baseline(app, rows: int) -> float:
    now = utcnow()
    with app.app_context():
        started = time.perf_counter()
        ids = (
            db.session.execute(
                sa.insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
                _contact_rows(rows, now),
            )
            .scalars()
            .all()
        )
        db.session.execute(sa.insert(ContactIdentity), _identity_rows(ids, now))
        db.session.commit()
        return time.perf_counter() - started


def run_floor(app, rows: int) -> float:
    now = utcnow()
    with app.app_context():
        started = time.perf_counter()
        session = db.session()
        contacts = _contact_rows(rows, now)
        names = tuple(contacts[0])
        ids = bulk.insert_rows(
            session, Contact, names, [tuple(r.values()) for r in contacts], ids=True
        )
        identities = _identity_rows(ids, now)
        names = tuple(identities[0])
        bulk.insert_rows(session, ContactIdentity, names, [tuple(r.values()) for r in identities])
        session.commit()
        return time.perf_counter() - started


def measure(name: str, url: str, rows: int, data: bytes, *, target: bool) -> None:
    baseline = run_baseline(fresh_app(url), rows)
    floor = run_floor(fresh_app(url), rows)
    ours = run_import(fresh_app(url), data)
    print(f"import {rows} rows on {name}: {ours:.2f} s ({rows / ours:,.0f} rows/s)")
    print(f"  baseline raw bulk insert: {baseline:.2f} s ({rows / baseline:,.0f} rows/s)")
    print(f"  floor, same rows through the bulk writer: {floor:.2f} s ({rows / floor:,.0f} rows/s)")
    print(
        f"  ratio import/baseline time: {ours / baseline:.2f}x; import/floor: {ours / floor:.2f}x"
    )
    scaled = ours * 100_000 / rows
    if target:
        verdict = "PASS" if scaled <= TARGET_SECONDS else "FAIL"
        print(f"  target 100k rows <= {TARGET_SECONDS:.0f} s: {verdict} ({scaled:.1f} s for 100k)")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = csv_bytes(rows)
    given = os.environ.get("BENCH_DATABASE_URL")
    with tempfile.TemporaryDirectory() as folder:
        if given:
            name = "PostgreSQL" if given.startswith("postgresql") else "SQLite"
            measure(name, given, rows, data, target=name == "PostgreSQL")
        else:
            pg = fresh_database("carteras_bench_import")
            measure("PostgreSQL", pg, rows, data, target=True)
            measure("SQLite", f"sqlite:///{folder}/bench.db", rows, data, target=False)
    # ru_maxrss is in KiB on Linux: the peak of this whole process (all the runs).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
