"""Hand-off through the database (CARTERAS_HANDOFF=database, the default on PostgreSQL with
Redis): the webhook stores and NOTIFYs, with no Redis call; the workers' dispatchers hand the
rows to the queue, each row once, in order."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.config import Config
from service.domain import intake
from service.extensions import db
from service.models import InboxMessage
from tests.conftest import PG_URL
from tests.webhooks.conftest import Posting, whatsapp_text
from tests.workers import REDIS_URL, ServingWorker, registered_workers, rocketchat_env, worker_env


def test_the_setting_chooses_the_database_only_where_it_can_work():
    pg, lite = "postgresql+psycopg://db/x", "sqlite:///x.db"
    assert Config(database_url=pg, redis_url="redis://r").handoff_through_database
    assert not Config(
        database_url=pg, redis_url="redis://r", handoff="request"
    ).handoff_through_database
    assert not Config(database_url=pg).handoff_through_database  # no queue to hand to
    assert not Config(database_url=lite, redis_url="redis://r").handoff_through_database
    assert not Config(redis_url="redis://r", handoff="database").handoff_through_database
    with pytest.raises(ValueError, match="CARTERAS_HANDOFF"):
        Config.from_env({"CARTERAS_HANDOFF": "sometimes"})


@pytest.fixture
def on_postgresql(backend):
    if backend.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite hands over in the request")


def handoff_by_database(app, monkeypatch) -> None:
    config = app.config["CARTERAS"].with_overrides(redis_url=REDIS_URL, handoff="database")
    monkeypatch.setitem(app.config, "CARTERAS", config)


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds} s"
        time.sleep(0.05)


class NoQueue:
    """A jobs port the webhook must not touch."""

    def __getattr__(self, name):
        raise AssertionError(f"the webhook called the queue ({name})")


def listening():
    conn = psycopg.connect(
        sa.make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    )
    conn.execute(f"LISTEN {intake.INBOX_CHANNEL}")
    return conn


def test_the_webhook_stores_and_notifies_without_calling_the_queue(
    app, client, monkeypatch, on_postgresql
):
    handoff_by_database(app, monkeypatch)
    monkeypatch.setattr(app.extensions["ports"], "jobs", NoQueue())
    post = Posting(client, app)
    with listening() as conn:
        response = post.whatsapp(whatsapp_text("wamid.notify", sender="5215512345678"))
        assert response.status_code == 200 and response.json["accepted"] == 1
        heard = [n.channel for n in conn.notifies(timeout=5, stop_after=1)]
        assert heard == [intake.INBOX_CHANNEL]
        (row,) = post.rows()
        assert row.status == "pending"
        # a redelivery stores nothing, so it wakes nobody
        assert post.whatsapp(whatsapp_text("wamid.notify")).json["duplicates"] == 1
        assert list(conn.notifies(timeout=0.5)) == []


def test_concurrent_dispatchers_hand_each_row_over_once_and_oldest_first(
    app, post_rows, on_postgresql
):
    ids = post_rows(600)
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def dispatch(mine: list[int]) -> None:
        with app.app_context(), Session(db.engine) as session:
            start.wait()
            while batch := intake.hand_over(session, datetime.now(UTC), limit=50):
                session.commit()
                assert batch == sorted(batch)
                mine.extend(batch)

    threads = [threading.Thread(target=dispatch, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(taken[0] + taken[1]) == ids  # every row, and none twice
    assert taken[0] and taken[1]  # both took part
    with app.app_context():
        statuses = set(db.session.scalars(sa.select(InboxMessage.status)))
    assert statuses == {"queued"}


@pytest.fixture
def post_rows(app, client, monkeypatch):
    def store(count: int) -> list[int]:
        handoff_by_database(app, monkeypatch)
        monkeypatch.setattr(app.extensions["ports"], "jobs", NoQueue())
        post = Posting(client, app)
        for n in range(count):
            body = whatsapp_text(f"wamid.many-{n}", sender=f"5215512{n:06d}")
            assert post.whatsapp(body).status_code == 200
        return sorted(row.id for row in post.rows())

    return store


def test_a_worker_dispatches_and_routes_a_customers_messages_in_order(
    app, backend, client, make, monkeypatch, real_redis, on_postgresql, tmp_path
):
    from tests.fake_rocketchat import FakeRocketChat

    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis")
    make.contact("Lucía", make.cartera("Premium", team, luis, "💎"), phones=["+52 55 1234 5678"])
    handoff_by_database(app, monkeypatch)
    monkeypatch.setattr(app.extensions["ports"], "jobs", NoQueue())
    post = Posting(client, app)
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as rc:
        rc.add_agent("u-luis", "luis", online=True)
        # no sweep to fall back on: only the dispatcher brings these messages to the queue
        env = worker_env(backend, **rocketchat_env(rc), CARTERAS_SWEEP_INTERVAL="3600")
        worker = ServingWorker(env, tmp_path / "w.log")
        try:
            wait_until(lambda: registered_workers(REDIS_URL) == 1, 60, "worker up")
            time.sleep(1)  # listening: a row stored before is drained at start anyway
            for n in range(5):
                body = whatsapp_text(
                    f"wamid.order-{n}", "5215512345678", text=f"m{n}", timestamp=1763809200 + n
                )
                assert post.whatsapp(body).status_code == 200
                if n == 0:  # each notification is heard, not only the first
                    wait_until(lambda: len(rc.messages) == 1, 30, "first message routed")
            wait_until(lambda: len(rc.messages) == 5, 30, "all five routed")
        finally:
            assert worker.stop() == 0
        assert [m["msg"] for m in rc.messages] == [f"m{n}" for n in range(5)]
        assert {row.status for row in post.rows()} == {"processed"}
