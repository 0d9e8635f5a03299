"""Helpers to post the signed samples (or freshly signed variants) to the receivers."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from service.domain.messages import Identity, InboundMessage
from service.extensions import db
from service.models import Contact, DeliveryStatus, InboxMessage
from tests import samples

# A parsed WhatsApp text from +52 55 1234 5678 at a fixed time (the webhook's store tests).
PARSED_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def parsed_message(external_id: str, *, kind: str = "text", text: str = "Hola") -> InboundMessage:
    return InboundMessage(
        channel="whatsapp",
        provider="meta",
        external_id=external_id,
        sender=Identity("phone", "+5215512345678", "5215512345678"),
        sent_at=PARSED_AT,
        kind=kind,
        text=text,
        thread_key="+5215512345678",
        payload={"message": {"id": external_id}},
    )


def postgres_only(backend) -> None:
    if backend.name != "postgresql":
        pytest.skip("autocommit, NOTIFY, driver and server connections are PostgreSQL's")


@pytest.fixture
def postgres(backend) -> None:
    postgres_only(backend)


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, whitespace folded. A
    listener on its statements also sends the webhook's one-message statement through
    SQLAlchemy's Connection, so that the listener sees it (intake._lean)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    with _listening(app, before_cursor_execute=record):
        yield seen


# What a step of a job runs before its commit on PostgreSQL (runtime.commit_step).
STEP = "SET LOCAL synchronous_commit TO OFF"


@contextmanager
def transactions(app) -> Iterator[list[list[str]]]:
    """As ``statements``, one list per transaction: each commit starts the next one."""
    seen: list[list[str]] = [[]]

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen[-1].append(" ".join(statement.split()))

    with _listening(app, before_cursor_execute=record, commit=lambda _conn: seen.append([])):
        yield seen


@contextmanager
def _listening(app, **listeners: Any) -> Iterator[None]:
    """The app's engine events *listeners* (event name: function), inside the block only."""
    with app.app_context():
        engine = db.engine
    for name, listener in listeners.items():
        sa.event.listen(engine, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners.items():
            sa.event.remove(engine, name, listener)


def other_connection(app) -> psycopg.Connection:
    """A connection of its own to the app's database (what another client sees)."""
    with app.app_context():
        url = db.engine.url.set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def sign_whatsapp(body: bytes) -> dict[str, str]:
    digest = hmac.new(samples.WHATSAPP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def whatsapp_text(
    message_id: str,
    sender: str = "5215512345678",
    text: str = "Hola",
    name: str = "Lucía Gómez",
    timestamp: int = 1763809200,
) -> bytes:
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [{"profile": {"name": name}, "wa_id": sender}],
                                "messages": [
                                    {
                                        "from": sender,
                                        "id": message_id,
                                        "timestamp": str(timestamp),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()


class Posting:
    def __init__(self, client: Any, app: Any) -> None:
        self.client, self.app = client, app

    def whatsapp(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            "/webhooks/whatsapp",
            data=body,
            content_type="application/json",
            headers=sign_whatsapp(body) if headers is None else headers,
        )

    def sample(self, name: str) -> Any:
        headers = {"X-Hub-Signature-256": "sha256=" + samples.WHATSAPP_SIGNATURES[name]}
        return self.whatsapp(samples.raw(name), headers)

    def rows(self) -> list[InboxMessage]:
        with self.app.app_context():
            rows = list(db.session.scalars(sa.select(InboxMessage).order_by(InboxMessage.id)))
            db.session.expunge_all()
            return rows

    def count(self, model: Any) -> int:
        with self.app.app_context():
            return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0

    def contacts(self) -> list[tuple[str, list[tuple[str, str]], int | None]]:
        with self.app.app_context():
            return [
                (c.name, sorted((i.kind, i.value) for i in c.identities), c.cartera_id)
                for c in db.session.scalars(sa.select(Contact).order_by(Contact.id))
            ]


@pytest.fixture
def post(client, app) -> Posting:
    return Posting(client, app)


@pytest.fixture
def clock(app, monkeypatch) -> FixedClock:
    fixed = FixedClock(datetime.fromtimestamp(samples.MAILGUN_TIMESTAMP + 30, tz=UTC))
    monkeypatch.setattr(app.extensions["ports"], "clock", fixed)
    return fixed


__all__ = ["DeliveryStatus", "FixedClock", "Posting", "sign_whatsapp", "whatsapp_text"]
