"""The worker's dispatcher (``CARTERAS_HANDOFF=database``, the default on PostgreSQL with
Redis): webhooks only store the message and ``NOTIFY`` in their transaction, so a webhook
makes no Redis call; this thread of every worker process ``LISTEN``s and hands the new rows
to the queue, oldest first, in batches.

Each row is handed over by one dispatcher (``intake.hand_over``: a compare-and-set that
concurrent dispatchers skip past). A notification missed while the listening connection was
away is covered by a drain every ``IDLE`` seconds and at every (re)connection, and a row whose
enqueue failed (Redis away) stays ``queued`` for the sweep, as any lost retry does.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from flask import Flask
from psycopg import sql

from service.domain import intake
from service.extensions import db
from service.jobs.enqueue import enqueue_inbox
from service.jobs.runtime import ports

log = logging.getLogger(__name__)

BATCH = 200  # rows per compare-and-set and per round of enqueues
IDLE = 1.0  # seconds between drains when no notification comes
FIRST_WAIT, LONGEST_WAIT = 0.5, 10.0  # back-off while PostgreSQL is away


def drain(app: Flask) -> int:
    """Hand every pending row to the queue now; how many were enqueued."""
    enqueued = 0
    with app.app_context():
        while True:
            session = db.session()
            ids = intake.hand_over(session, ports().clock.now(), BATCH)
            session.commit()
            if ids:
                enqueued += enqueue_inbox(ids)
            if len(ids) < BATCH:
                return enqueued


def _conninfo(app: Flask) -> str:
    with app.app_context():
        url = db.engine.url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def listen(app: Flask, stop: threading.Event) -> None:
    """Drain on every notification (and every ``IDLE`` seconds) until *stop* is set. A
    PostgreSQL outage never ends the loop: logged once when it starts and once when over."""
    conninfo = _conninfo(app)
    failing, delay = False, FIRST_WAIT
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(intake.INBOX_CHANNEL)))
                if failing:
                    log.info("dispatcher listening again")
                    failing, delay = False, FIRST_WAIT
                drain(app)  # what came while nobody listened
                while not stop.is_set():
                    if list(conn.notifies(timeout=IDLE, stop_after=1)):
                        # one drain takes the rows of every notification already here (read
                        # after the first one, not inside its loop: nested, psycopg waits for
                        # ever, which tests/integration/test_handoff.py catches)
                        list(conn.notifies(timeout=0.001))
                    drain(app)
        except Exception as exc:
            if not failing:
                log.warning(
                    "dispatcher lost the database; the sweep covers meanwhile",
                    extra={"error": repr(exc)[:300]},
                )
                failing = True
            stop.wait(delay)
            delay = min(delay * 2, LONGEST_WAIT)


def start_in_background(app: Flask) -> threading.Event:
    """Run :func:`listen` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=listen, args=(app, stop), daemon=True, name="carteras-dispatcher"
    ).start()
    return stop
