"""A row is routed once: while one job has it (processing), every other claim of it, at
the same moment or later, gets nothing and changes nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.adapters.rq_queue import RQJobQueue
from service.domain import intake
from service.extensions import db
from service.jobs.intake import process_inbox
from service.models import Contact, InboxMessage, WebhookNonce
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


# ---- which rows a job may take, and what taking one records ---------------------------------
LEASE = timedelta(minutes=5)


def stored_row(app, post, message_id: str, **fields) -> InboxMessage:
    """A stored WhatsApp message, then set to *fields* (status, not_before...)."""
    post.whatsapp(whatsapp_text(message_id))
    (row,) = [r for r in post.rows() if r.external_id == message_id]
    if fields:
        with app.app_context():
            stored = db.session.get(InboxMessage, row.id)
            for name, value in fields.items():
                setattr(stored, name, value)
            db.session.commit()
    return row


@pytest.mark.parametrize("status", ["pending", "queued", "failed"])
def test_rows_waiting_for_a_job_are_claimed_and_the_claim_recorded(app, post, status):
    row = stored_row(app, post, f"wamid.{status}", status=status, attempts=2)
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # the jobs' clock, not the wall clock
    with app.app_context():
        taken = intake.claim(db.session(), row.id, now)
        db.session.commit()
        assert taken is not None and taken.id == row.id
    (stored,) = post.rows()
    assert (stored.status, stored.attempts) == ("processing", 3)
    assert stored.claimed_at == now and stored.updated_at == now
    assert stored.not_before is None


def test_a_claim_holds_the_row_for_one_lease(app, post):
    """The sweeper takes back a row whose job stopped renewing its claim for a lease."""
    row = stored_row(app, post, "wamid.lease")
    now = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    with app.app_context():
        intake.claim(db.session(), row.id, now)
        db.session.commit()
        later = now + LEASE - timedelta(seconds=1)
        assert intake.stale_ids(db.session(), later, grace=LEASE, lease=LEASE) == []
        assert intake.stale_ids(db.session(), now + LEASE, grace=LEASE, lease=LEASE) == [row.id]
        db.session.rollback()


@pytest.mark.parametrize(
    ("not_before", "claimed"),
    [
        (None, True),  # deferred behind its thread: its turn came
        (timedelta(0), True),  # a wait that ends now is over
        (timedelta(seconds=-1), True),
        (timedelta(seconds=1), False),  # still waiting
    ],
)
def test_a_waiting_row_is_claimed_once_its_wait_is_over(app, post, not_before, claimed):
    now = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    until = None if not_before is None else now + not_before
    row = stored_row(app, post, "wamid.waiting", status="waiting", not_before=until)
    with app.app_context():
        taken = intake.claim(db.session(), row.id, now)
        db.session.commit()
    assert (taken is not None) is claimed
    (stored,) = post.rows()
    if claimed:
        assert (stored.status, stored.not_before, stored.claimed_at) == ("processing", None, now)
    else:
        assert (stored.status, stored.not_before, stored.claimed_at) == ("waiting", until, None)


def test_the_claimed_row_is_returned_as_it_is_now(app, post):
    """The caller's session may hold the row as it was before the claim (it read it to
    decide): what claim returns is the row after it."""
    row = stored_row(app, post, "wamid.fresh")
    now = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    with app.app_context():
        before = db.session.get(InboxMessage, row.id)
        assert (before.status, before.attempts) == ("pending", 0)
        taken = intake.claim(db.session(), row.id, now)
        assert (taken.status, taken.attempts, taken.claimed_at) == ("processing", 1, now)
        db.session.rollback()


def test_a_claim_of_an_unknown_row_takes_nothing(app):
    with app.app_context():
        assert intake.claim(db.session(), 404, datetime(2030, 1, 1, tzinfo=UTC)) is None


# ---- single-use webhook tokens (Mailgun) ----------------------------------------------------
def test_a_token_is_used_once_per_provider(app):
    now = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    with app.app_context():
        session = db.session()
        assert intake.use_nonce(session, "mailgun", "tok-1", now)
        assert not intake.use_nonce(session, "mailgun", "tok-1", now)  # a replay
        assert intake.use_nonce(session, "mailgun", "tok-2", now)
        assert intake.use_nonce(session, "other", "tok-1", now)  # another provider's token
        session.commit()
        seen = session.execute(
            sa.select(WebhookNonce.provider, WebhookNonce.nonce, WebhookNonce.seen_at).order_by(
                WebhookNonce.id
            )
        ).all()
    # when it was seen, by the service's clock
    assert seen == [("mailgun", "tok-1", now), ("mailgun", "tok-2", now), ("other", "tok-1", now)]


def test_a_token_longer_than_its_column_is_kept_cut_not_refused(app):
    now = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    token = "t" * 300
    with app.app_context():
        session = db.session()
        assert intake.use_nonce(session, "mailgun", token, now)
        # the same first 255 characters are the same token
        assert not intake.use_nonce(session, "mailgun", token[:255] + "different", now)
        session.commit()
        assert session.scalars(sa.select(WebhookNonce.nonce)).all() == [token[:255]]
