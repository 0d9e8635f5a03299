"""The in-process job queue (embedded default): order, one job per id, retries with back-off,
scheduled jobs, the job's app context and what service.jobs.runtime sees of the job."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from service.adapters.thread_queue import InlineJobQueue, ThreadJobQueue
from service.domain.ports import running_job

HERE = __name__
RAN: list[tuple[object, ...]] = []
GATE = threading.Event()
FAILURES: dict[str, int] = {}


def record(*args: object) -> None:
    """Keeps (args..., job id, retries left, when)."""
    job = running_job.get()
    RAN.append((*args, job.id if job else None, job.retries_left if job else None, time.time()))


def blocked(name: str) -> None:
    GATE.wait(5)
    record(name)


def flaky(name: str, failures: int) -> None:
    """Fails *failures* times, then records."""
    record(name)
    if FAILURES.setdefault(name, 0) < failures:
        FAILURES[name] += 1
        raise RuntimeError(f"{name} failed")


@pytest.fixture(autouse=True)
def _clean():
    RAN.clear()
    FAILURES.clear()
    GATE.clear()
    yield
    GATE.set()


@pytest.fixture
def queue():
    made = ThreadJobQueue(retry_intervals=(0.2, 0.4))
    yield made
    made.stop()


def names() -> list[object]:
    return [entry[0] for entry in RAN]


def test_no_thread_until_the_first_job_and_enqueue_never_waits_for_the_job():
    queue = ThreadJobQueue()
    assert queue._thread is None  # nothing started by building it
    started = time.perf_counter()
    assert queue.enqueue("routing", f"{HERE}.blocked", "slow", job_id="j1") is True
    assert time.perf_counter() - started < 0.1  # the job waits on GATE: the caller did not
    assert queue._thread is not None and RAN == []
    GATE.set()
    assert queue.drain(5) and names() == ["slow"]
    queue.stop()


def test_jobs_run_one_at_a_time_in_the_order_they_were_queued(queue):
    queue.enqueue("routing", f"{HERE}.blocked", "first", job_id="j0")
    for n in range(1, 6):
        queue.enqueue("routing", f"{HERE}.record", f"m{n}", job_id=f"j{n}")
    GATE.set()
    assert queue.drain(5)
    assert names() == ["first", "m1", "m2", "m3", "m4", "m5"]
    assert [entry[1] for entry in RAN] == ["j0", "j1", "j2", "j3", "j4", "j5"]


def test_routing_is_served_before_other_queues(queue):
    queue.enqueue("routing", f"{HERE}.blocked", "first", job_id="j0")
    queue.enqueue("relay", f"{HERE}.record", "reply", job_id="r1")
    queue.enqueue("routing", f"{HERE}.record", "route", job_id="j1")
    GATE.set()
    assert queue.drain(5) and names() == ["first", "route", "reply"]


def test_one_live_job_per_id_and_a_finished_one_may_run_again(queue):
    queue.enqueue("routing", f"{HERE}.blocked", "hold", job_id="hold")
    assert queue.enqueue("routing", f"{HERE}.record", "a", job_id="same") is True
    assert queue.enqueue("routing", f"{HERE}.record", "b", job_id="same") is False
    GATE.set()
    assert queue.drain(5) and names() == ["hold", "a"]
    assert queue.enqueue("routing", f"{HERE}.record", "c", job_id="same") is True
    assert queue.drain(5) and names() == ["hold", "a", "c"]


def test_a_started_job_is_replaced_only_when_the_caller_says_it_is_dead(queue):
    queue.enqueue("routing", f"{HERE}.blocked", "running", job_id="x")
    time.sleep(0.1)  # started, waiting on GATE
    assert queue.enqueue("routing", f"{HERE}.record", "again", job_id="x") is False
    assert queue.enqueue("routing", f"{HERE}.record", "again", job_id="x", replace_started=True)
    GATE.set()
    assert queue.drain(5) and names() == ["running", "again"]


def test_a_failing_job_is_retried_with_the_back_off_then_succeeds(queue):
    queue.enqueue("routing", f"{HERE}.flaky", "f", 2, job_id="f")
    assert queue.drain(5, scheduled=True)
    assert names() == ["f", "f", "f"]
    # retries_left as the job saw it: 2, 1, then 0 (runtime.last_attempt() is True)
    assert [entry[2] for entry in RAN] == [2, 1, 0]
    gaps = [RAN[i + 1][3] - RAN[i][3] for i in range(2)]
    assert 0.18 <= gaps[0] < 0.35 and 0.38 <= gaps[1] < 0.6
    assert queue.failed == {}


def test_a_job_that_keeps_failing_is_failed_after_the_last_retry(queue):
    queue.enqueue("routing", f"{HERE}.flaky", "bad", 99, job_id="bad")
    assert queue.drain(5, scheduled=True)
    assert names() == ["bad"] * 3
    assert "bad failed" in queue.failed["bad"]
    # a replay queues it again under the same id
    assert queue.enqueue("routing", f"{HERE}.record", "replayed", job_id="bad") is True


def test_a_job_waiting_for_its_retry_is_not_queued_twice(queue):
    queue.enqueue("routing", f"{HERE}.flaky", "f", 1, job_id="f")
    time.sleep(0.1)  # failed once, its retry is scheduled
    assert queue.enqueue("routing", f"{HERE}.record", "dup", job_id="f") is False
    assert queue.drain(5, scheduled=True) and names() == ["f", "f"]


def test_scheduled_jobs_run_at_their_time_and_a_new_schedule_replaces_the_old(queue):
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    queue.enqueue_at(soon, "routing", f"{HERE}.record", "old", job_id="later")
    queue.enqueue_at(soon, "routing", f"{HERE}.record", "new", job_id="later")
    queued_at = time.time()
    assert queue.drain(1) is True and RAN == []  # nothing due yet
    assert queue.drain(5, scheduled=True)
    assert names() == ["new"] and RAN[0][3] - queued_at >= 0.25


def test_jobs_run_inside_the_bound_context():
    entered: list[str] = []

    @contextmanager
    def context():
        entered.append(threading.current_thread().name)
        yield

    queue = ThreadJobQueue()
    queue.bind(context)
    queue.enqueue("routing", f"{HERE}.record", "a", job_id="a")
    assert queue.drain(5) and entered == ["carteras-jobs"]
    queue.stop()


def test_inline_queue_runs_at_once_in_the_caller_and_keeps_failures():
    queue = InlineJobQueue()
    assert queue.enqueue("routing", f"{HERE}.record", "now", job_id="n") is True
    assert names() == ["now"] and RAN[0][2] == 0  # no retry follows
    assert queue.enqueue("routing", f"{HERE}.flaky", "bad", 1, job_id="b") is True
    assert "bad failed" in queue.failed["b"]
    queue.enqueue_at(datetime.now(UTC), "routing", f"{HERE}.record", "x", job_id="x")
    assert names() == ["now", "bad"]  # scheduled work is left to the sweep
