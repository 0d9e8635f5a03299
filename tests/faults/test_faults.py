"""Faults lose nothing: Redis away under a stream of webhooks, a worker killed mid-job,
a thousand duplicate deliveries at once, the database connection dropped mid-request.

Each test is bounded in time and talks only to loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from service.adapters.rq_queue import RQJobQueue
from service.extensions import db
from service.jobs import sweeper
from service.models import Contact, Conversation, InboxMessage
from tests.fake_rocketchat import FakeRocketChat
from tests.webhooks.conftest import Posting, sign_whatsapp, whatsapp_text
from tests.workers import REDIS_URL, ROOT, WORKER, rocketchat_env, worker_env

pytestmark = pytest.mark.fault


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_redis_away_under_a_stream_then_everything_routed_once(
    app, client, monkeypatch, real_redis
):
    monkeypatch.setattr(
        app.extensions["ports"], "jobs", RQJobQueue.from_url("redis://127.0.0.1:1/0")
    )
    post = Posting(client, app)
    for n in range(40):  # Redis is away: every webhook still answers 200
        response = post.whatsapp(whatsapp_text(f"wamid.s{n}", sender=f"52155100000{n:02d}"))
        assert response.status_code == 200 and response.json["accepted"] == 1
    assert count(app, InboxMessage, InboxMessage.status == "pending") == 40

    monkeypatch.setattr(app.extensions["ports"], "jobs", RQJobQueue.from_url(REDIS_URL))
    with app.app_context():  # Redis is back: the sweep enqueues, a worker runs them
        assert sweeper.requeue_stale(grace=timedelta(0)) == (40, 40)
        # swept again before a worker ran: still pending, but no job is queued twice
        assert sweeper.requeue_stale(grace=timedelta(0)) == (40, 0)
        assert real_redis.llen("rq:queue:routing") == 40
        SimpleWorker(["routing"], connection=real_redis).work(burst=True)
    assert count(app, InboxMessage, InboxMessage.status == "processed") == 40
    assert count(app, Contact) == 40 and count(app, Conversation) == 40
    with app.app_context():
        attempts = set(db.session.scalars(sa.select(InboxMessage.attempts)))
    assert attempts == {1}


def test_a_worker_killed_mid_job_routes_the_message_once_after_restart(
    app, backend, client, make, monkeypatch, real_redis
):
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis")
    make.contact("Lucía", make.cartera("Premium", team, luis, "💎"), phones=["+52 55 1234 5678"])
    monkeypatch.setattr(app.extensions["ports"], "jobs", RQJobQueue.from_url(REDIS_URL))
    with FakeRocketChat() as rc:
        rc.add_agent("u-luis", "luis", online=True)
        Posting(client, app).whatsapp(whatsapp_text("wamid.kill", sender="5215512345678"))
        env = worker_env(backend, **rocketchat_env(rc))
        command = WORKER
        rc.open.clear()  # every Rocket.Chat call waits: the job stays mid-flight
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90  # a worker starting on a loaded machine is slow
        while not rc.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rc.calls, "the worker never reached Rocket.Chat"
        os.killpg(worker.pid, signal.SIGKILL)  # the whole work-horse family, no clean-up
        worker.wait(timeout=10)
        assert count(app, InboxMessage, InboxMessage.status == "processing") == 1

        rc.open.set()
        with app.app_context():
            # the lease ran out: the sweep puts the row back; its job is still registered as
            # started in RQ, whose abandoned-job handling runs it again on the next worker
            found, _queued = sweeper.requeue_stale(grace=timedelta(0), lease=timedelta(0))
            assert found == 1
        restarted = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert restarted.returncode == 0, restarted.stderr[-2000:]
        assert count(app, InboxMessage, InboxMessage.status == "processed") == 1
        assert len(rc.rooms) == 1 and len(rc.messages) == 1
        assert [r["servedBy"]["_id"] for r in rc.rooms.values()] == ["u-luis"]
        assert count(app, Conversation) == 1


def test_a_thousand_duplicate_deliveries_at_once(app, backend):
    if backend.name != "postgresql":
        pytest.skip("SQLite has one writer; the embedded default is not built for this load")
    body = whatsapp_text("wamid.dup", sender="5215512345678")
    headers = sign_whatsapp(body)

    def deliver(_):
        return (
            app.test_client()
            .post("/webhooks/whatsapp", data=body, content_type="application/json", headers=headers)
            .status_code
        )

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(deliver, range(1000)))
    assert statuses.count(200) == 1000
    assert count(app, InboxMessage) == 1 and count(app, Conversation) == 1
    assert count(app, Contact) == 1


def test_database_connection_dropped_mid_request_is_a_5xx_not_a_lost_200(app, backend, client):
    if backend.name != "postgresql":
        pytest.skip("the connection is a PostgreSQL server connection")
    body = whatsapp_text("wamid.drop", sender="5215512345678")
    dropped = []

    def kill_connection(conn, cursor, statement, *_):
        if "INSERT INTO inbox_messages" in statement and not dropped:
            dropped.append(True)
            with conn.connection.dbapi_connection.cursor() as suicide:
                suicide.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", kill_connection)
    try:
        response = client.post(
            "/webhooks/whatsapp",
            data=body,
            content_type="application/json",
            headers=sign_whatsapp(body),
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", kill_connection)
    assert dropped and response.status_code == 503  # the platform will retry
    assert response.json["error"]["code"] == "unavailable"
    assert count(app, InboxMessage) == 0
    retried = client.post(
        "/webhooks/whatsapp",
        data=body,
        content_type="application/json",
        headers=sign_whatsapp(body),
    )
    assert retried.status_code == 200 and count(app, InboxMessage) == 1
