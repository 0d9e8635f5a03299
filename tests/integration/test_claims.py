"""A row is routed once: while one job has it (processing), every other claim of it, at
the same moment or later, gets nothing and changes nothing."""

from __future__ import annotations

import threading

import pytest

from service.adapters.rq_queue import RQJobQueue
from service.domain import intake
from service.extensions import db
from service.jobs.intake import process_inbox
from service.models import Contact, InboxMessage
from tests.webhooks.conftest import Posting, whatsapp_text


@pytest.fixture
def post(client, app, monkeypatch):
    # Redis is away: rows stay pending until the test runs the job itself
    monkeypatch.setattr(
        app.extensions["ports"], "jobs", RQJobQueue.from_url("redis://127.0.0.1:1/0")
    )
    return Posting(client, app)


def test_a_row_being_processed_is_not_claimed_again(app, post):
    post.whatsapp(whatsapp_text("wamid.busy"))
    (row,) = post.rows()
    with app.app_context():
        taken = intake.claim(db.session(), row.id, row.received_at)
        db.session.commit()
        assert taken is not None and taken.status == "processing" and taken.attempts == 1
    with app.app_context():
        assert intake.claim(db.session(), row.id, row.received_at) is None
        db.session.commit()
        assert process_inbox(row.id) == "skipped"  # another worker's job for the same row
    (row,) = post.rows()
    assert (row.status, row.attempts, row.contact_id) == ("processing", 1, None)
    assert post.count(Contact) == 0


def test_two_claims_at_once_route_the_row_once(app, post):
    post.whatsapp(whatsapp_text("wamid.twice"))
    (row,) = post.rows()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def job() -> None:
        with app.app_context():
            barrier.wait()
            outcomes.append(process_inbox(row.id))

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["processed", "skipped"]
    (row,) = post.rows()
    assert (row.status, row.attempts) == ("processed", 1)
    assert post.count(Contact) == 1


@pytest.mark.parametrize("status", ["processing", "processed", "skipped"])
def test_only_rows_waiting_for_a_job_can_be_claimed(app, post, status):
    post.whatsapp(whatsapp_text(f"wamid.{status}"))
    (row,) = post.rows()
    with app.app_context():
        stored = db.session.get(InboxMessage, row.id)
        stored.status = status
        db.session.commit()
        assert intake.claim(db.session(), row.id, row.received_at) is None
        db.session.rollback()
    assert post.rows()[0].attempts == row.attempts
