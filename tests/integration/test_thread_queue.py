"""The embedded default's job thread (no REDIS_URL, not jobs_inline): a webhook answers at
once while Rocket.Chat is slow, and the same jobs run behind it in order, with retries and
back-off, and the web process's sweep."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from service.adapters.rocketchat import RocketChatClient
from service.adapters.thread_queue import ThreadJobQueue
from service.app import create_app
from service.domain.ports import QueueUnavailable
from tests.conftest import PG_URL, close_served, make_config
from tests.fake_rocketchat import FakeRocketChat
from tests.webhooks.conftest import Posting, whatsapp_text

PHONE = "5215512345678"


@pytest.fixture
def rc_only():
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as fake:
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_department("dep-norte", "Norte", agents=["u-luis"])
        fake.add_custom_field("cartera", "Cartera", scope="room")
        yield fake


@pytest.fixture
def org(make):
    team = make.team("Norte", rocketchat_department_id="dep-norte")
    luis = make.agent("Luis", [team], rocketchat_user_id="u-luis", rocketchat_username="luis")
    premium = make.cartera("Premium", team, luis, "💎")
    make.contact("Lucía", premium, phones=["+52 55 1234 5678"])
    return {"luis": luis}


@pytest.fixture
def threaded(app, backend, rc_only, org) -> Callable[..., Posting]:
    """An app on the runtime default's job thread, on the test database (reset by ``app``),
    routing to the fake Rocket.Chat; returns a poster for it."""
    made = []

    def build(**overrides: object) -> Posting:
        url = f"sqlite:///{backend.file}" if backend.name == "sqlite" else PG_URL
        served = create_app(make_config(url, jobs_inline=False, **overrides))
        chat = RocketChatClient(rc_only.url, rc_only.user_id, rc_only.auth_token, timeout=10)
        served.extensions["ports"].chat = chat
        made.append(served)
        return Posting(served.test_client(), served)

    yield build
    for served in made:
        close_served(served)


def jobs_of(post: Posting) -> ThreadJobQueue:
    jobs = post.app.extensions["ports"].jobs
    assert isinstance(jobs, ThreadJobQueue)  # the runtime default without REDIS_URL
    return jobs


def test_the_webhook_answers_while_rocketchat_is_slow_and_the_message_is_routed_after(
    threaded, rc_only
):
    post = threaded()
    rc_only.delay = 2.0  # every Rocket.Chat answer takes 2 s
    started = time.perf_counter()
    response = post.whatsapp(whatsapp_text("wamid.slow", sender=PHONE, text="Hola"))
    answered = time.perf_counter() - started
    assert response.status_code == 200 and response.json["accepted"] == 1
    assert answered < 0.5, answered
    assert rc_only.messages == []  # not yet: the job is still talking to Rocket.Chat
    rc_only.delay = 0.2  # (the call in flight still takes its 2 s; keeps the test short)
    assert jobs_of(post).drain(30)
    assert [m["msg"] for m in rc_only.messages] == ["Hola"]
    (row,) = post.rows()
    assert row.status == "processed" and row.contact_id is not None


def test_a_customers_messages_reach_the_room_in_the_order_they_came(threaded, rc_only):
    post = threaded()
    texts = [f"mensaje {n}" for n in range(6)]
    for n, text in enumerate(texts):
        assert post.whatsapp(whatsapp_text(f"wamid.o{n}", sender=PHONE, text=text)).json["accepted"]
    assert jobs_of(post).drain(30)
    (room,) = rc_only.rooms.values()
    assert rc_only.messages_in(room["_id"]) == texts
    assert {r.status for r in post.rows()} == {"processed"}


def test_a_rocketchat_error_is_retried_after_the_configured_back_off(threaded, rc_only):
    post = threaded(retry_intervals=(1,))
    rc_only.fail("livechat/message", status=500, times=1)
    post.whatsapp(whatsapp_text("wamid.retry", sender=PHONE, text="Hola"))
    deadline = time.monotonic() + 10  # the first attempt fails (after its quick retries)
    while (row := post.rows()[0]).status != "queued" and time.monotonic() < deadline:
        time.sleep(0.02)  # its retry then waits 1 s
    assert row.status == "queued" and "boom" in (row.last_error or "")
    assert rc_only.messages == []
    assert jobs_of(post).drain(15, scheduled=True)
    (row,) = post.rows()
    assert row.status == "processed" and row.attempts == 2
    assert [m["msg"] for m in rc_only.messages] == ["Hola"]
    sends = [t for _, path, t in rc_only.calls if path == "livechat/message"]
    assert len(sends) == 2


def test_a_message_failing_every_retry_is_kept_failed_for_a_replay(threaded, rc_only):
    post = threaded(retry_intervals=(0, 0))
    rc_only.fail("livechat/message", status=500, times=3)
    post.whatsapp(whatsapp_text("wamid.fail", sender=PHONE, text="Hola"))
    assert jobs_of(post).drain(15, scheduled=True)
    (row,) = post.rows()
    assert row.status == "failed" and row.attempts == 3 and "boom" in (row.last_error or "")
    assert rc_only.messages == []
    result = post.app.test_cli_runner().invoke(args=["inbox", "replay", "--id", str(row.id)])
    assert result.exit_code == 0, result.output
    assert jobs_of(post).drain(15)
    assert post.rows()[0].status == "processed"
    assert [m["msg"] for m in rc_only.messages] == ["Hola"]


def test_the_web_processs_sweep_takes_a_message_its_queue_never_got(threaded, rc_only, monkeypatch):
    post = threaded(sweep_interval=0.2, pending_grace=0.2)
    jobs = jobs_of(post)
    real = jobs.enqueue

    def lost_once(*args: object, **kwargs: object) -> bool:
        monkeypatch.setattr(jobs, "enqueue", real)
        raise QueueUnavailable("the process died before the job ran")

    monkeypatch.setattr(jobs, "enqueue", lost_once)
    assert post.whatsapp(whatsapp_text("wamid.swept", sender=PHONE)).status_code == 200
    assert post.rows()[0].status == "pending"  # the sweep started with this first request
    deadline = time.monotonic() + 10
    while post.rows()[0].status != "processed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert post.rows()[0].status == "processed"
    assert [m["msg"] for m in rc_only.messages] == ["Hola"]
