"""Routing job throughput in one worker process on PostgreSQL: jobs/s and p50/p95 per job.

Rocket.Chat is (a) the recording stand-in, so only our own time is measured, and (b) the
fake HTTP server from the tests on loopback, answering at once. Each message of (a) and (b)
opens a new conversation routed to its cartera's owner (the costliest case); then each
customer's next message goes into its open conversation (the usual case). The baseline, measured in
the same run, is a job that only claims and finishes its inbox row (the two transactions
every job pays, committed as the routing job commits them: the claim as a step, the end
durably). Targets: >= 200 jobs/s per worker (judged for each of the two cases, the
costliest and the usual), p95 <= 25 ms of our own time.

    .venv/bin/python bench/routing_job.py [JOBS]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakeredis import FakeStrictRedis

from bench.common import fresh_database, percentile, report, rss_mb, verdict
from service.adapters.recording_chat import RecordingChatPlatform
from service.adapters.rocketchat import RocketChatClient
from service.adapters.rq_queue import RQJobQueue
from service.app import create_app
from service.config import Config
from service.domain import intake
from service.domain.messages import Delivery, Identity, InboundMessage
from service.domain.ports import Ports
from service.extensions import db
from service.jobs.intake import process_inbox
from service.jobs.runtime import commit_step
from service.models.types import utcnow
from tests.factories import Make
from tests.fake_rocketchat import FakeRocketChat


def setup(app, jobs: int, offset: int) -> list[int]:
    make = Make(app)
    if offset == 0:
        team = make.team("Norte", rocketchat_department_id="dep-norte")
        agent = make.agent("Luis", [team], rocketchat_user_id="u-luis")
        app.config["BENCH_CARTERA"] = make.cartera("Premium", team, agent, "💎")
    with app.app_context():
        from service.domain import contacts
        from service.domain.actor import system_actor

        actor = system_actor("bench")
        for n in range(jobs):
            contacts.create_contact(
                db.session(),
                actor,
                {
                    "name": f"Cliente {offset + n}",
                    "phones": [f"+5255{offset + n:08d}"],
                    "cartera_id": app.config["BENCH_CARTERA"],
                },
                region="MX",
            )
        db.session.commit()
    return store(app, [offset + n for n in range(jobs)], "job", "Hola", serial=offset)


def store(app, customers: list[int], prefix: str, text: str, serial: int = 0) -> list[int]:
    """One stored message from each of *customers* (numbers of ``setup``'s customers)."""
    with app.app_context():
        messages = tuple(
            InboundMessage(
                channel="whatsapp",
                provider="meta",
                external_id=f"wamid.{prefix}{serial + i}",
                sender=Identity("phone", f"+5255{c:08d}", f"5255{c:08d}"),
                sent_at=utcnow(),
                text=text,
                thread_key=f"+5255{c:08d}",
                recipient="1065",
            )
            for i, c in enumerate(customers)
        )
        accepted = intake.accept(
            db.session(), Delivery(messages=messages), region="MX", now=utcnow()
        )
        db.session.commit()
        return accepted.new_ids


MEMORY_AFTER = int(os.environ.get("BENCH_MEMORY_AFTER", "10000"))


def more_messages(app, customers: int, count: int, serial: int) -> list[int]:
    """*count* more messages, spread over the first *customers* customers of ``setup``."""
    return store(app, [n % customers for n in range(count)], "more", "¿Sigue ahí?", serial)


def run(app, ids: list[int], job) -> tuple[float, list[float]]:
    durations = []
    with app.app_context():
        started = time.perf_counter()
        for inbox_id in ids:
            t0 = time.perf_counter()
            job(inbox_id)
            durations.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    return len(ids) / elapsed, durations


def claim_and_finish(inbox_id: int) -> None:
    session = db.session()
    row = intake.claim(session, inbox_id, utcnow())
    commit_step(session)  # as the routing job commits its claim
    intake.finish(session, row, "processed", utcnow())
    session.commit()


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    url = fresh_database("carteras_bench_jobs")
    ports = Ports(jobs=RQJobQueue(FakeStrictRedis(), is_async=False), chat=RecordingChatPlatform())
    app = create_app(Config(database_url=url, secret_key="bench", log_level="ERROR"), ports=ports)
    results = {}
    baseline_ids = setup(app, jobs, 0)
    results["baseline (claim + finish only)"] = run(app, baseline_ids, claim_and_finish)
    own_ids = setup(app, jobs, jobs)
    results["routing, recording stand-in (our own time)"] = run(app, own_ids, process_inbox)
    with FakeRocketChat() as rc:
        rc.add_agent("u-luis", "luis", online=True)
        ports.chat = RocketChatClient(rc.url, rc.user_id, rc.auth_token, timeout=5)
        http_ids = setup(app, jobs, 2 * jobs)
        results["routing, fake Rocket.Chat over HTTP"] = run(app, http_ids, process_inbox)
        ports.chat = RecordingChatPlatform()
    # The usual case in a contact centre: a customer's next message, into the conversation
    # opened above (no decision, no room, no forward: the message is posted and recorded).
    follow_ids = store(app, [jobs + n for n in range(jobs)], "next", "¿Sigue ahí?")
    results["routing, next message of an open conversation"] = run(app, follow_ids, process_inbox)
    # Memory: this process is a worker's code path; run it up to 10,000 routed messages
    # (more messages of the customers above, into their open conversations), then read RSS.
    done = 3 * jobs
    while done < MEMORY_AFTER:
        batch = min(1000, MEMORY_AFTER - done)
        ids = more_messages(app, jobs, batch, done)
        run(app, ids, process_inbox)
        done += batch
    resident = rss_mb(os.getpid())
    with app.app_context():
        db.engine.dispose()
    lines = {
        name: f"{rate:.0f} jobs/s, p50 {percentile(d, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(d, 0.95) * 1000:.1f} ms"
        for name, (rate, d) in results.items()
    }
    own_rate, own = results["routing, recording stand-in (our own time)"]
    base_rate, _ = results["baseline (claim + finish only)"]
    lines["ratio own/baseline rate"] = f"{own_rate / base_rate:.2f}"
    follow_rate, _ = results["routing, next message of an open conversation"]
    lines["ratio next message/baseline rate"] = f"{follow_rate / base_rate:.2f}"
    lines["target >= 200 jobs/s (a new conversation)"] = verdict(own_rate >= 200)
    lines["target >= 200 jobs/s (a next message)"] = verdict(follow_rate >= 200)
    lines["target p95 <= 25 ms (own time)"] = verdict(percentile(own, 0.95) <= 0.025)
    lines["worker memory"] = (
        f"{resident:.0f} MB resident after {done:,} routed messages "
        f"(target < 200 MB: {verdict(resident < 200)})"
    )
    report(f"routing job, {jobs} jobs per variant, one process, PostgreSQL", lines)


if __name__ == "__main__":
    main()
