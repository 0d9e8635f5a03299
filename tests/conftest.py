"""Shared fixtures: one app per database backend (SQLite and PostgreSQL), schemas built by
the real migrations, a clean database for every test, API clients per role."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import settings

from service.app import create_app
from service.config import Config
from service.extensions import db
from service.ui.auth import throttle
from tests import isolation, samples
from tests.factories import Make
from tests.isolation import REQUIRE_SERVICES

pytest_plugins = ["tests.workers"]  # the real_redis fixture

PG_URL = isolation.pg_url()

# CI explores the same fuzz examples every run (a failure there is reproducible, never luck);
# a developer's run explores new ones. A failing example is printed either way.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")


def pytest_sessionstart(session: pytest.Session) -> None:
    isolation.drop_databases(only_dead=True)  # left by runs that were killed


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    isolation.drop_databases(only_dead=False)
    isolation.release_redis_db()


def unavailable(what: str, reason: str) -> None:
    """Skip with a clear reason on a laptop; fail when CI says the service must be there."""
    message = f"{what} is not reachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(
        f"{message}; set TEST_DATABASE_URL or start it (REQUIRE_SERVICES=1 makes this fail)"
    )


def _prepare_postgres(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            )
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = sa.create_engine(target)
    with engine.begin() as conn:  # start from nothing: the migrations build the schema
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def make_config(database_url: str, **overrides: Any) -> Config:
    settings: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": "test-secret",
        "testing": True,
        "log_level": "WARNING",
        "default_phone_region": "MX",
        "timezone": "America/Mexico_City",
        # the test secrets the signed samples in tests/payloads/ were made with
        "whatsapp_app_secret": samples.WHATSAPP_SECRET,
        "whatsapp_verify_token": samples.WHATSAPP_VERIFY_TOKEN,
        "twilio_auth_token": samples.TWILIO_TOKEN,
        "public_base_url": "https://carteras.example.com",
        "mailgun_signing_key": samples.MAILGUN_KEY,
        "postmark_webhook_user": samples.POSTMARK_AUTH[0],
        "postmark_webhook_password": samples.POSTMARK_AUTH[1],
        "sendgrid_webhook_user": samples.SENDGRID_AUTH[0],
        "sendgrid_webhook_password": samples.SENDGRID_AUTH[1],
        "rocketchat_webhook_token": samples.ROCKETCHAT_TOKEN,
        # jobs run inside the request that queued them, so a test asserts right after it;
        # tests/integration/test_thread_queue.py covers the embedded default's job thread
        "jobs_inline": True,
    }
    return Config(**{**settings, **overrides})


class Backend:
    """A migrated database and an app bound to it, reset between tests."""

    def __init__(self, name: str, app: Flask, template: Path | None, file: Path | None) -> None:
        self.name, self.app, self.template, self.file = name, app, template, file

    def reset(self) -> None:
        throttle(self.app).reset()  # sign-in attempts counted by earlier tests
        with self.app.app_context():
            db.session.remove()
            if self.name == "sqlite":
                db.engine.dispose()
                assert self.template and self.file
                shutil.copyfile(self.template, self.file)
            else:
                tables = ", ".join(t.name for t in db.metadata.sorted_tables)
                with db.engine.begin() as conn:
                    # The audit log refuses TRUNCATE (a trigger); the replica role skips user
                    # triggers for this transaction only: tests only.
                    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                    conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    made = _make_backend(request.param, tmp_path_factory)
    yield made
    with made.app.app_context():
        db.session.remove()
        db.engine.dispose()


def _make_backend(name: str, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if name == "sqlite":
        folder = tmp_path_factory.mktemp("sqlite")
        file = folder / "carteras.db"
        app = create_app(make_config(f"sqlite:///{file}"))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        template = folder / "template.db"
        shutil.copyfile(file, template)
        return Backend("sqlite", app, template, file)
    try:
        _prepare_postgres(PG_URL)
    except sa.exc.OperationalError as exc:
        unavailable("PostgreSQL", str(exc).splitlines()[0])
    app = create_app(make_config(PG_URL))
    with app.app_context():
        upgrade()
    return Backend("postgresql", app, None, None)


@pytest.fixture
def app(backend: Backend) -> Flask:
    """The app on a clean database. No app context stays pushed, so every test request gets
    its own context and session, as in production (a forgotten commit shows)."""
    backend.reset()
    return backend.app


@pytest.fixture
def make(app: Flask) -> Make:
    return Make(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """A test client that sends one bearer token and JSON by default."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        headers = self._headers(kw.pop("headers", None))
        return self.client.post(path, json=json, headers=headers, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        headers = self._headers(kw.pop("headers", None))
        return self.client.patch(path, json=json, headers=headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def admin(client: FlaskClient, make: Make) -> Api:
    return Api(client, make.token("admin", "Ana Admin"))


@pytest.fixture
def coordinator(client: FlaskClient, make: Make) -> Api:
    return Api(client, make.token("coordinator", "Carla Coordinadora"))


@pytest.fixture
def as_agent(client: FlaskClient, make: Make) -> Any:
    def login(agent_id: int, name: str = "agent-user") -> Api:
        return Api(client, make.token("agent", name, agent_id))

    return login


def close_served(served: Flask) -> None:
    """Stop what an app of a test's own started (the embedded sweep, the job thread) and
    close its database connections."""
    stop = served.extensions.get("carteras.sweep_stop")
    if stop is not None:
        stop.set()
    served.extensions["ports"].jobs.stop(timeout=30)
    with served.app_context():
        db.session.remove()
        db.engine.dispose()
