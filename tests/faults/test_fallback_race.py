"""The owner's answer racing the scheduled owner fallback, with real processes (issue 18).

In production the owner timeout is a job that ``jobs/enqueue.schedule_fallback`` schedules
when a conversation reaches its owner, and that the RQ worker's scheduler hands to a worker
when the wait is over. The owner's answer arrives as a Rocket.Chat ``agent_message`` webhook,
whose job marks the conversation taken. The fallback's compare-and-set
(``conversations.claim_fallback``) must give one team forward or none, never two, and none
when the answer was recorded first.

Here two `flask --app wsgi worker routing` processes (one of them runs the scheduler) work a
private redis-server of this test alone (no other test's queues, scheduled jobs, scheduler
locks or workers: the shared per-run Redis database can hold a stopped worker's scheduler
lock for a minute) against this run's PostgreSQL database, and call a fake Rocket.Chat over
HTTP. The periodic sweep is off (a day apart), so only the scheduled job can fall back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from fakeredis import FakeStrictRedis
from flask import Flask
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from service.adapters.rq_queue import RQJobQueue
from service.extensions import db
from service.jobs.enqueue import enqueue_fallbacks, fallback_job_id
from service.models import Conversation, InboxMessage
from tests import samples
from tests.factories import Make
from tests.fake_rocketchat import FakeRocketChat
from tests.webhooks.conftest import Posting, whatsapp_text
from tests.workers import (
    ServingWorker,
    private_redis_server,
    registered_workers,
    rocketchat_env,
    worker_env,
)

pytestmark = pytest.mark.fault
TIMEOUT = 2  # the carteras' owner timeout, seconds
# When each answer comes, relative to its conversation's deadline. A scheduled job is due at
# the next whole second and the scheduler looks every second, so the fallback claims up to
# about two seconds after the deadline: the early answers are recorded before it can claim
# (even on a busy machine, where a job takes half a second), the others land on both sides.
OFFSETS = (-1.6, -1.0, -0.4, 0.0, 0.3, 0.7, 1.1, 1.6)
STAGGER = 0.4  # seconds between two customers' first messages
TEAM_COMMENT = "Cartera 💎 Premium: asignada al equipo (el dueño no la tomó a tiempo)"
LUIS = {"_id": "u-luis", "username": "luis", "name": "Luis"}


def wait_for(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def events(conv: Conversation, name: str) -> list[dict[str, Any]]:
    return [e for e in conv.trace.get("events", []) if e["event"] == name]


@dataclass
class Stack:
    app: Flask
    rc: FakeRocketChat
    redis_url: str
    contacts: list[int]

    def customer_writes(self, n: int) -> None:
        body = whatsapp_text(f"wamid.race{n}", sender=f"52155100000{n:02d}", name=f"C{n}")
        assert Posting(self.app.test_client(), self.app).whatsapp(body).status_code == 200

    def conversations(self) -> dict[int, Conversation]:
        """Every conversation by contact id, read fresh."""
        with self.app.app_context():
            rows = list(db.session.scalars(sa.select(Conversation)))
            db.session.expunge_all()
        return {row.contact_id: row for row in rows if row.contact_id is not None}

    def placed(self, contact: int) -> Conversation:
        """The contact's conversation once a worker handed it to its owner (the deadline is
        set only once the owner has the room)."""

        def found() -> Conversation | None:
            conv = self.conversations().get(contact)
            return conv if conv is not None and conv.owner_deadline_at is not None else None

        conv: Conversation = wait_for(found, 20, f"contact {contact} routed to the owner")
        return conv

    def owner_answers(self, conv: Conversation, message_id: str) -> None:
        """Rocket.Chat's agent_message webhook: Luis wrote in the room."""
        body = json.loads(samples.raw("rocketchat/agent-message.json"))
        body["_id"] = conv.rc_room_id
        body["visitor"]["token"] = conv.rc_visitor_token
        body["agent"] = LUIS
        (message,) = body["messages"]
        message.update(_id=message_id, rid=conv.rc_room_id, agentId="u-luis", u=LUIS)
        response = self.app.test_client().post(
            "/webhooks/rocketchat",
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-RocketChat-Livechat-Token": samples.ROCKETCHAT_TOKEN},
        )
        assert response.status_code == 200

    def fallback_outcomes(self, conversation_ids: list[int]) -> dict[int, str | None]:
        """What each conversation's fallback job returned ("fallback" or "skipped"), None
        while it has not run."""
        connection = redis.Redis.from_url(self.redis_url)
        try:
            found: dict[int, str | None] = {}
            for conversation_id in conversation_ids:
                try:
                    job = Job.fetch(fallback_job_id(conversation_id), connection=connection)
                except NoSuchJobError:  # never scheduled (or not yet)
                    found[conversation_id] = None
                    continue
                done = job.get_status(refresh=True) == JobStatus.FINISHED
                found[conversation_id] = str(job.return_value()) if done else None
            return found
        finally:
            connection.close()

    def settled(self, conversation_ids: list[int], seconds: float) -> dict[int, str | None]:
        """Wait until every fallback job has run (the scheduler handed it to a worker)."""

        def outcomes() -> dict[int, str | None] | None:
            found = self.fallback_outcomes(conversation_ids)
            return found if all(found.values()) else None

        try:
            result: dict[int, str | None] = wait_for(outcomes, seconds, "fallback jobs run")
        except AssertionError as exc:  # which ones (None: not run, or never scheduled)
            raise AssertionError(f"{exc}: {self.fallback_outcomes(conversation_ids)}") from None
        return result

    def answers_processed(self) -> None:
        def done() -> bool:
            with self.app.app_context():
                statuses = db.session.scalars(
                    sa.select(InboxMessage.status).where(InboxMessage.provider == "rocketchat")
                ).all()
            return len(statuses) == len(OFFSETS) and set(statuses) == {"processed"}

        wait_for(done, 15, "answers processed")

    def team_forwards(self, conv: Conversation) -> list[dict[str, Any]]:
        return [f for f in self.rc.forwards if f["roomId"] == conv.rc_room_id]

    def room(self, conv: Conversation) -> dict[str, Any]:
        assert conv.rc_room_id is not None
        return self.rc.rooms[conv.rc_room_id]


def check_answered(
    stack: Stack, conv: Conversation, outcome: str | None, seen_taken: float, offset: float
) -> bool:
    """One answered conversation: at most one team forward, a forward exactly when the
    fallback claimed, none if the answer was seen recorded before the deadline (then True)."""
    what = f"answer {offset:+} s from the deadline"
    assert conv.owner_deadline_at is not None and conv.taken_at is not None, what
    assert len(events(conv, "taken")) == 1, what
    forwards = stack.team_forwards(conv)
    assert len(forwards) <= 1, f"{what}: two forwards {forwards}"
    first = seen_taken < conv.owner_deadline_at.timestamp()
    if first:  # recorded before anybody could claim it: the owner keeps it
        assert conv.fallback_at is None, f"{what}: fell back after the answer"
    if conv.fallback_at is None:
        assert outcome == "skipped", what
        assert forwards == [] and events(conv, "owner_timeout") == [], what
        assert (conv.routed_to, conv.reason) == ("agent", "owner_agent"), what
        assert stack.room(conv)["servedBy"]["_id"] == "u-luis", what
    else:
        assert outcome == "fallback", what
        assert conv.fallback_at >= conv.owner_deadline_at, what
        assert forwards == [
            {"roomId": conv.rc_room_id, "departmentId": "dep-norte", "comment": TEAM_COMMENT}
        ], what
        assert (conv.routed_to, conv.reason) == ("team", "owner_timeout_team"), what
        assert len(events(conv, "owner_timeout")) == 1, f"{what}: {conv.trace['events']}"
    return first


@pytest.fixture
def rocketchat() -> Iterator[FakeRocketChat]:
    with FakeRocketChat(API_Enable_Rate_Limiter=False) as fake:
        fake.add_agent("u-luis", "luis", online=True)
        fake.add_agent("u-marta", "marta", online=True)
        fake.add_department("dep-norte", "Norte", agents=["u-luis", "u-marta"])
        fake.add_custom_field("cartera", "Cartera", scope="room")
        yield fake


@pytest.fixture
def stack(
    app: Flask, backend: Any, make: Make, monkeypatch: Any, rocketchat: Any, tmp_path: Path
) -> Iterator[Stack]:
    """Two workers on a private Redis; Luis owns Premium (team Norte = dep-norte) with nine
    customers and Directa (a team without a Rocket.Chat department) with one, both with an
    owner timeout of TIMEOUT seconds. Afterwards: the workers stopped warm, no traceback."""
    with private_redis_server() as server:
        env = worker_env(
            backend,
            **rocketchat_env(rocketchat),
            REDIS_URL=server.url,
            CARTERAS_SWEEP_INTERVAL="86400",  # no safety net: only the scheduler falls back
            CARTERAS_PENDING_GRACE="86400",
        )
        workers = [ServingWorker(env, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            norte = make.team("Norte", rocketchat_department_id="dep-norte")
            solo = make.team("Solo")
            luis = make.agent(
                "Luis", [norte, solo], rocketchat_user_id="u-luis", rocketchat_username="luis"
            )
            make.agent("Marta", [norte], rocketchat_user_id="u-marta")
            premium = make.cartera("Premium", norte, luis, "💎", owner_timeout_seconds=TIMEOUT)
            directa = make.cartera("Directa", solo, luis, "🎯", owner_timeout_seconds=TIMEOUT)
            contacts = [
                make.contact(f"C{n}", directa if n == 9 else premium, phones=[f"+52551000{n:04d}"])
                for n in range(10)
            ]
            monkeypatch.setattr(app.extensions["ports"], "jobs", RQJobQueue.from_url(server.url))
            wait_for(lambda: registered_workers(server.url) == 2, 30, "workers registered")
            yield Stack(app, rocketchat, server.url, contacts)
        finally:
            for worker in workers:
                worker.request_stop()  # both at once: each finishes its job, then exits
            codes = [worker.stop() for worker in workers]
        assert codes == [0, 0]
        for worker in workers:
            assert worker.lines("Traceback") == [], worker.log.read_text()[-3000:]


def test_a_scheduled_job_is_never_due_before_its_time() -> None:
    """RQ keeps a scheduled time in whole seconds, cut down: a fallback scheduled for
    12:00:00.7 was handed to a worker from 12:00:00.0 on, found its deadline not reached and
    did nothing (the sweep, seconds later, was the only one left to fall back). The queue
    adapter rounds the time up. Catches that rounding removed."""
    queue = RQJobQueue(FakeStrictRedis())
    for fraction in (0, 1, 500_000, 999_999):
        when = datetime(2030, 1, 1, 12, 0, 0, fraction, tzinfo=UTC)
        queue.enqueue_at(when, "routing", "service.jobs.routing.owner_fallback", 1, job_id="f")
        due = ScheduledJobRegistry("routing", connection=queue.connection).get_scheduled_time("f")
        assert when <= due < when + timedelta(seconds=1)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_owner_answer_racing_the_scheduled_fallback(stack: Stack) -> None:
    """Customers 0-7 (Premium) get Luis's answer at OFFSETS from their deadline; customer 8
    (Premium) and customer 9 (Directa) get none. Mutations this catches:

    - `schedule_fallback` made a no-op: customer 8 is never handed to the team (nothing else
      falls back here: the sweep is off);
    - `Conversation.taken_at.is_(None)` removed from `claim_fallback`: the answers recorded
      before their deadline fall back all the same;
    - `Conversation.fallback_at.is_(None)` removed from `claim_fallback`: each fallback job is
      then run a second time (RQ runs a job at least once: a worker that dies after the
      commit leaves it to run again), and customer 9's runs again. Directa's team has no
      Rocket.Chat department, so its fallback leaves the room where it is (routed_to stays
      "agent") and only the fallback mark tells the second run it is done.
    """
    started = time.monotonic()
    answered, silent = stack.contacts[: len(OFFSETS)], stack.contacts[len(OFFSETS) :]
    routed: dict[int, Conversation] = {}
    seen_taken: dict[int, float] = {}  # contact -> wall time its answer was seen recorded

    def answer_at(contact: int, offset: float) -> None:
        # timed from its own conversation's deadline, as soon as it has one
        routed[contact] = conv = stack.placed(contact)
        assert conv.owner_deadline_at is not None
        time.sleep(max(0.0, conv.owner_deadline_at.timestamp() + offset - time.time()))
        stack.owner_answers(conv, f"answer-{conv.id}")

        def taken() -> bool:
            return stack.conversations()[contact].taken_at is not None

        wait_for(taken, 20, f"answer of conversation {conv.id} recorded")
        seen_taken[contact] = time.time()

    threads = [
        threading.Thread(target=answer_at, args=(contact, offset))
        for contact, offset in zip(answered, OFFSETS, strict=True)
    ]
    for thread in threads:
        thread.start()
    for n in range(len(stack.contacts)):  # a little apart: no job waits behind many others
        stack.customer_writes(n)
        time.sleep(STAGGER)
    for contact in silent:
        routed[contact] = stack.placed(contact)
    for thread in threads:
        thread.join(timeout=40)
    assert len(seen_taken) == len(OFFSETS), "an answer was not recorded"
    for conv in routed.values():  # each went to its owner first
        assert (
            conv.forwarded_to == "agent:u-luis" and conv.trace["owner_timeout_seconds"] == TIMEOUT
        )
    ids = [routed[contact].id for contact in stack.contacts]
    outcomes = stack.settled(ids, TIMEOUT + 10)
    stack.answers_processed()
    once = stack.conversations()

    # (a) no answer: the scheduled job hands it to the team, once
    team, kept = once[silent[0]], once[silent[1]]
    for conv in (team, kept):
        assert outcomes[conv.id] == "fallback"
        assert conv.owner_deadline_at is not None and conv.fallback_at is not None
        assert conv.fallback_at >= conv.owner_deadline_at and conv.taken_at is None
        assert conv.reason == "owner_timeout_team" and len(events(conv, "owner_timeout")) == 1
    assert team.routed_to == "team" and stack.team_forwards(team) == [
        {"roomId": team.rc_room_id, "departmentId": "dep-norte", "comment": TEAM_COMMENT}
    ]
    assert stack.room(team)["departmentId"] == "dep-norte"
    assert kept.routed_to == "agent" and stack.team_forwards(kept) == []  # no department
    assert stack.room(kept)["servedBy"]["_id"] == "u-luis"

    # (b) an answer around the deadline: one forward or none, none if it was recorded first
    first = fell_back = 0
    for contact, offset in zip(answered, OFFSETS, strict=True):
        conv = once[contact]
        first += check_answered(stack, conv, outcomes[conv.id], seen_taken[contact], offset)
        fell_back += conv.fallback_at is not None
    assert first >= 1, "no answer was seen recorded before its deadline: nothing was shown"

    # (c) every fallback job run a second time changes nothing
    forwards_before = list(stack.rc.forwards)
    with stack.app.app_context():
        assert enqueue_fallbacks(ids) == len(ids)  # the finished jobs are queued again
    assert stack.settled(ids, 15) == dict.fromkeys(ids, "skipped")
    twice = stack.conversations()
    for contact in stack.contacts:
        before, after = once[contact], twice[contact]
        assert (after.fallback_at, after.taken_at) == (before.fallback_at, before.taken_at)
        assert (after.routed_to, after.reason) == (before.routed_to, before.reason)
        assert after.trace == before.trace
    assert stack.rc.forwards == forwards_before
    print(
        f"{first} of {len(OFFSETS)} answers recorded before the deadline, {fell_back} fell"
        f" back; {time.monotonic() - started:.1f} s"
    )
