"""A conversation's messages reach Rocket.Chat in the order the customer sent them (domain
rule 8), through retries, failures, replays, skips and several real worker processes."""

from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa
from rq import Retry

from service.adapters.rq_queue import RQJobQueue
from service.extensions import db
from service.models import AuditEvent, InboxMessage
from tests.fake_rocketchat import FakeRocketChat
from tests.webhooks.conftest import Posting, whatsapp_text
from tests.workers import REDIS_URL, ROOT, WORKER, rocketchat_env, worker_env

PHONE = "5215512345678"
T0 = 1763809200


@pytest.fixture
def post(client, app):
    return Posting(client, app)


def statuses(post) -> list[tuple[str, str | None]]:
    return [(r.status, r.last_error) for r in post.rows()]


def test_a_failed_message_holds_the_later_ones_until_it_is_replayed(app, rc, post):
    rc.fail("livechat/message", status=500, times=1)
    for n, text in enumerate(["¿Tienen el modelo azul?", "¿y en talla M?", "gracias"]):
        post.whatsapp(whatsapp_text(f"wamid.{n}", sender=PHONE, text=text, timestamp=T0 + n))
    first, second, third = post.rows()
    assert first.status == "failed"
    assert (second.status, second.last_error) == (
        "waiting",
        f"after message {first.id} of the same conversation",
    )
    assert third.status == "waiting" and rc.messages == []  # nothing shown out of order
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    assert [r.status for r in post.rows()] == ["processed"] * 3
    (room,) = rc.rooms
    assert rc.messages_in(room) == ["¿Tienen el modelo azul?", "¿y en talla M?", "gracias"]


def test_the_provider_timestamp_orders_messages_that_arrive_out_of_order(app, rc, post):
    rc.fail("livechat/message", status=500, times=1)  # holds the first one to arrive
    post.whatsapp(whatsapp_text("wamid.b", sender=PHONE, text="segundo", timestamp=T0 + 5))
    post.whatsapp(whatsapp_text("wamid.a", sender=PHONE, text="primero", timestamp=T0))
    # "primero" was sent first: it does not wait for the failed later one
    late, early = post.rows()
    assert late.status == "failed" and early.status == "processed"
    app.test_cli_runner().invoke(args=["inbox", "replay", "--all-failed"])
    (room,) = rc.rooms
    assert rc.messages_in(room) == ["primero", "segundo"]


def test_other_conversations_are_not_held(app, rc, post):
    rc.fail("livechat/message", status=500, times=1)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="uno"))
    post.whatsapp(whatsapp_text("wamid.2", sender="5215599999999", text="otro", name="Otra"))
    assert [r.status for r in post.rows()] == ["failed", "processed"]


def test_skipping_a_poison_message_lets_the_rest_through_and_is_audited(app, rc, post):
    rc.fail("livechat/message", status=500, times=1)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="veneno", timestamp=T0))
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="después", timestamp=T0 + 1))
    first, second = post.rows()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["inbox", "skip", "--id", str(second.id)])
    assert refused.exit_code != 0 and "waiting" in refused.output  # only a failed one
    done = runner.invoke(args=["inbox", "skip", "--id", str(first.id)])
    assert done.exit_code == 0 and f"skipped={first.id} next={second.id}" in done.output
    assert [r.status for r in post.rows()] == ["skipped", "processed"]
    (room,) = rc.rooms
    assert rc.messages_in(room) == ["después"]
    with app.app_context():
        (event,) = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.resource_type == "inbox")
        ).all()
        assert (event.resource_id, event.after) == (first.id, {"status": "skipped"})
        assert event.actor_name == "cli:inbox"


def test_a_deferred_message_whose_hand_over_was_lost_is_swept(app, rc, post):
    from datetime import timedelta

    from service.jobs import sweeper

    rc.fail("livechat/message", status=500, times=1)
    post.whatsapp(whatsapp_text("wamid.1", sender=PHONE, text="uno", timestamp=T0))
    post.whatsapp(whatsapp_text("wamid.2", sender=PHONE, text="dos", timestamp=T0 + 1))
    first, _ = post.rows()
    with app.app_context():  # the first goes through by hand, without handing on
        row = db.session.get(InboxMessage, first.id)
        assert row is not None
        row.status = "processed"
        db.session.commit()
        found, _ = sweeper.requeue_stale(grace=timedelta(0))
        assert found == 1
    assert [r.status for r in post.rows()] == ["processed", "processed"]


@pytest.mark.redis
def test_order_holds_with_retries_and_two_real_workers(
    app, backend, post, make, monkeypatch, real_redis
):
    """Ten customers, five messages each, Rocket.Chat failing the first 36 posts: every
    failed post is retried by RQ while two worker processes race, and yet each room shows
    its messages once, in the order sent."""
    retrying = RQJobQueue.from_url(REDIS_URL, retry=Retry(max=5, interval=0))
    monkeypatch.setattr(app.extensions["ports"], "jobs", retrying)
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as rc:
        rc.add_agent("u-luis", "luis", online=True)
        rc.fail("livechat/message", status=500, times=36)  # 3 calls a try: 12 failed tries
        customers = [f"52155{n:08d}" for n in range(10)]
        for turn in range(5):
            for c, phone in enumerate(customers):
                body = whatsapp_text(
                    f"wamid.{c}.{turn}", sender=phone, text=f"{c}:{turn}", timestamp=T0 + turn
                )
                assert post.whatsapp(body).status_code == 200
        env = worker_env(backend, **rocketchat_env(rc), CARTERAS_RETRY_INTERVALS="0,0,0,0,0")
        workers = [
            subprocess.Popen(
                WORKER, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        for worker in workers:
            _, errors = worker.communicate(timeout=120)
            assert worker.returncode == 0, errors[-2000:]
        rows = post.rows()
        assert [r.status for r in rows].count("processed") == 50, statuses(post)
        by_room: dict[str, list[str]] = {}
        for message in rc.messages:
            by_room.setdefault(message["rid"], []).append(message["msg"])
        assert len(by_room) == 10
        for shown in by_room.values():
            customer = shown[0].split(":")[0]
            assert shown == [f"{customer}:{turn}" for turn in range(5)]


def test_the_claim_and_the_finish_lock_the_same_thread(app, backend, post):
    """The claim reads the thread from the row and locks it in SQL (lock_thread_of); the
    finish locks the thread it holds (lock_thread): one key, or the order check and the
    hand-over of a deferred message could interleave."""
    if backend.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite has one writer")
    from service.domain import ordering

    post.whatsapp(whatsapp_text("wamid.lock", sender=PHONE, text="hola", timestamp=T0))
    (row,) = post.rows()
    with app.app_context():
        first, second = db.engine.connect(), db.engine.connect()
        try:
            with sa.orm.Session(bind=first) as claiming:
                ordering.lock_thread_of(claiming, row.id)
                with sa.orm.Session(bind=second) as finishing:
                    taken = finishing.execute(
                        sa.select(
                            sa.func.pg_try_advisory_xact_lock(
                                ordering._lock_key(row.channel, row.thread_key)
                            )
                        )
                    ).scalar()
                    assert taken is False  # held by the claim
                    other = finishing.execute(
                        sa.select(
                            sa.func.pg_try_advisory_xact_lock(
                                ordering._lock_key(row.channel, "otro hilo")
                            )
                        )
                    ).scalar()
                    assert other is True  # another thread is not held
        finally:
            first.close()
            second.close()
