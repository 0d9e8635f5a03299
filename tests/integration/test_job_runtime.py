"""The jobs' one skeleton (jobs/runtime.py) and their one clock: a job claims its row at the
clock's time, keeps its failure on the row (``queued`` while the queue retries it, ``failed``
after the last try), and every status time the jobs, the lease and the sweeper write comes
from the ports' clock, not the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.adapters.rq_queue import RQJobQueue
from service.domain import intake
from service.domain.ports import RunningJob, running_job
from service.extensions import db
from service.jobs import lease, runtime, sweeper
from service.jobs.intake import process_inbox
from service.models import InboxMessage
from tests.webhooks.conftest import FixedClock, Posting, whatsapp_text

FAR = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)  # no wall clock is near it


@pytest.fixture
def clock(app, monkeypatch):
    clock = FixedClock(FAR)
    monkeypatch.setattr(app.extensions["ports"], "clock", clock)
    return clock


@pytest.fixture
def post(client, app):
    return Posting(client, app)


def redis_away(app, monkeypatch):
    monkeypatch.setattr(
        app.extensions["ports"], "jobs", RQJobQueue.from_url("redis://127.0.0.1:1/0")
    )


def test_a_routed_message_is_stamped_by_the_clock(app, post, clock):
    assert post.whatsapp(whatsapp_text("wamid.clock")).status_code == 200
    (row,) = post.rows()
    assert row.status == "processed" and row.attempts == 1
    assert row.received_at == row.claimed_at == row.updated_at == row.processed_at == FAR


def test_a_failure_is_kept_on_the_row_at_the_clock_time(app, post, clock, monkeypatch):
    def broken(*_args, **_kwargs):
        clock.current += timedelta(seconds=1)  # (a time equal to the claim's is no change)
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(intake, "resolve_contact", broken)
    clock.current = FAR + timedelta(seconds=3)
    post.whatsapp(whatsapp_text("wamid.broken"))
    (row,) = post.rows()
    assert row.status == "failed" and "database hiccup" in (row.last_error or "")
    assert row.claimed_at == FAR + timedelta(seconds=3)
    assert row.updated_at == FAR + timedelta(seconds=4)


def test_a_failure_with_a_retry_to_come_keeps_the_row_queued(app, post, clock, monkeypatch):
    redis_away(app, monkeypatch)
    post.whatsapp(whatsapp_text("wamid.retry"))
    (row,) = post.rows()

    def broken(*_args, **_kwargs):
        raise RuntimeError("Rocket.Chat hiccup")

    monkeypatch.setattr(intake, "resolve_contact", broken)
    token = running_job.set(RunningJob(f"inbox-{row.id}", retries_left=2))
    try:
        with app.app_context(), pytest.raises(RuntimeError, match="Rocket.Chat hiccup"):
            process_inbox(row.id)
    finally:
        running_job.reset(token)
    (row,) = post.rows()
    assert (row.status, row.attempts) == ("queued", 1)  # the queue retries it
    assert "Rocket.Chat hiccup" in (row.last_error or "")


def test_the_sweeper_measures_grace_and_lease_on_the_clock(app, post, clock, monkeypatch):
    redis_away(app, monkeypatch)
    post.whatsapp(whatsapp_text("wamid.sweep"))
    (row,) = post.rows()
    assert row.status == "pending" and row.received_at == FAR
    grace = timedelta(seconds=5)
    with app.app_context():
        clock.current = FAR + grace - timedelta(seconds=1)
        assert sweeper.requeue_stale(grace=grace) == (0, 0)
        clock.current = FAR + grace
        assert sweeper.requeue_stale(grace=grace) == (1, 0)  # found; Redis is away
        # a claim at the clock's time, then a lease measured on it
        intake.claim(db.session(), row.id, clock.now())
        db.session.commit()
        lease_time = timedelta(seconds=15)
        clock.current += lease_time - timedelta(seconds=1)
        assert sweeper.due_ids(grace=grace, lease=lease_time) == []
        clock.current += timedelta(seconds=1)
        assert sweeper.due_ids(grace=grace, lease=lease_time) == [row.id]
    (row,) = post.rows()
    assert row.status == "pending" and row.updated_at == clock.current


def test_the_lease_is_renewed_at_the_clock_time(app, post, clock, monkeypatch):
    redis_away(app, monkeypatch)
    post.whatsapp(whatsapp_text("wamid.lease"))
    (row,) = post.rows()
    with app.app_context():
        taken = intake.claim(db.session(), row.id, clock.now())
        db.session.commit()
        assert taken is not None
        attempt = taken.attempts
    clock.current = FAR + timedelta(minutes=7)
    with lease.held(app, row.id, attempt, 0.15, clock):
        deadline = time.monotonic() + 5
        while post.rows()[0].claimed_at != clock.current:
            assert time.monotonic() < deadline, "lease not renewed"
            time.sleep(0.05)


def test_one_renewer_keeps_every_held_lease_and_flags_a_lost_one(
    app, post, clock, monkeypatch, caplog
):
    """Two leases held at once are both renewed (by the process's one renewer thread); one
    whose row the sweeper took back is flagged lost and said once; one whose job ended is
    let go without a word."""
    redis_away(app, monkeypatch)
    post.whatsapp(whatsapp_text("wamid.lease1"))
    post.whatsapp(whatsapp_text("wamid.lease2", sender="5215511112222"))
    first, second = post.rows()
    with app.app_context():
        attempts = []
        for row in (first, second):
            taken = intake.claim(db.session(), row.id, clock.now())
            db.session.commit()
            assert taken is not None
            attempts.append(taken.attempts)
    clock.current = FAR + timedelta(minutes=9)
    renewed = lambda: [r.claimed_at == clock.current for r in post.rows()]  # noqa: E731
    with (
        lease.held(app, first.id, attempts[0], 0.15, clock) as one,
        lease.held(app, second.id, attempts[1], 0.3, clock) as two,
    ):
        deadline = time.monotonic() + 5
        while renewed() != [True, True]:
            assert time.monotonic() < deadline, "not every lease renewed"
            time.sleep(0.02)
        with app.app_context():  # the sweeper takes the second row back
            db.session.execute(
                sa.update(InboxMessage).where(InboxMessage.id == second.id).values(status="pending")
            )
            db.session.commit()
        while not two.lost:
            assert time.monotonic() < deadline, "the lost lease not flagged"
            time.sleep(0.02)
        assert not one.lost
    with app.app_context():  # the first job ends: its row is not processing any more
        db.session.execute(
            sa.update(InboxMessage).where(InboxMessage.id == first.id).values(status="processed")
        )
        db.session.commit()
    time.sleep(0.2)  # a renewal would be due by now: none runs for a lease let go
    lost = [r for r in caplog.records if r.getMessage().startswith("lease lost")]
    assert [r.inbox_id for r in lost] == [second.id]
    assert not one.lost


def test_the_skeleton_records_a_failure_and_raises_it_again(app, post, clock, monkeypatch):
    redis_away(app, monkeypatch)
    post.whatsapp(whatsapp_text("wamid.skeleton"))
    (row,) = post.rows()
    seen: list[tuple[str, bool]] = []

    def record(session, exc, final):
        seen.append((str(exc), final))
        stored = session.get(InboxMessage, row.id)
        intake.finish(session, stored, "failed", clock.now(), error=str(exc))

    def failing_job() -> None:
        with runtime.run("test", inbox_id=row.id) as job:
            taken = job.claim(lambda s, now: intake.claim(s, row.id, now))
            assert taken is not None and taken.claimed_at == FAR
            with job.recording_failures(record):
                taken.text = "changed, then rolled back"
                raise ValueError("boom")

    with app.app_context():
        with pytest.raises(ValueError, match="boom"):
            failing_job()
        with runtime.run("test") as job:
            assert job.claim(lambda s, now: intake.claim(s, row.id + 1000, now)) is None
            assert job.outcome == "skipped"
    assert seen == [("boom", True)]  # no queue job: nothing retries it
    (stored,) = post.rows()
    assert stored.status == "failed" and stored.last_error == "boom"
    assert stored.text != "changed, then rolled back"
