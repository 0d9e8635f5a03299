"""The audit log: who did what, searchable by text, event, resource and period."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.domain import audit
from service.domain.actor import Actor
from service.extensions import db
from service.models import AuditEvent, AuditLogIsAppendOnly


def test_each_change_is_one_event_with_actor_and_our_request_id(coordinator, make):
    team = make.team()
    response = coordinator.post(
        "/api/carteras",
        {"name": "Premium", "icon": "💎", "team_id": team},
        headers={"X-Request-ID": "req-123"},
    )
    cartera = response.json["id"]
    norte = make.region("Norte")
    coordinator.patch(f"/api/carteras/{cartera}", {"icon": "👑", "region": "Norte"})
    events = coordinator.get(f"/api/audit?resource_type=cartera&resource_id={cartera}").json
    assert [e["event"] for e in events["items"]] == ["updated", "created"]
    updated, created = events["items"]
    assert created["actor"]["name"] == "Carla Coordinadora"
    # the server's own id, never the one the client sent
    assert created["request_id"] == response.headers["X-Request-ID"] != "req-123"
    assert created["after"]["name"] == "Premium" and created["before"] is None
    assert updated["before"] == {"icon": "💎", "region_id": None, "region": None}
    assert updated["after"] == {"icon": "👑", "region_id": norte, "region": "Norte"}
    assert datetime.fromisoformat(updated["occurred_at"]).tzinfo is not None


def test_a_patch_that_changes_nothing_records_nothing(coordinator, make):
    cartera = make.cartera(team_id=make.team(), icon="💎")
    coordinator.patch(f"/api/carteras/{cartera}", {"icon": "💎"})
    assert coordinator.get("/api/audit?event=updated").json["total"] == 0


def test_filters(coordinator, make):
    team = make.team("Norte")
    premium = make.cartera("Premium", team)
    ana = make.contact("Ana Núñez")
    coordinator.post(f"/api/carteras/{premium}/contacts", {"contact_ids": [ana]})
    coordinator.post(f"/api/carteras/{premium}/deactivate")

    def events(query):
        return [
            (e["event"], e["resource_name"])
            for e in coordinator.get(f"/api/audit?{query}").json["items"]
        ]

    assert events("event=deactivated") == [("deactivated", "Premium")]
    assert events("event=contact_added") == [("contact_added", "Premium")]
    assert events("q=nunez") == [("contact_added", "Premium"), ("created", "Ana Núñez")]
    # the actor's name: her two changes, and her token's creation
    assert len(events("q=carla")) == 3
    assert events("resource_type=team") == [("created", "Norte")]
    assert len(events("period=today")) == 6
    today = datetime.now(UTC).date()
    assert len(events(f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}")) == 6
    assert events(f"to={today - timedelta(days=2)}") == []


@pytest.mark.parametrize(
    "query",
    [
        "event=renamed",
        "resource_type=planet",
        "period=decade",
        "from=yesterday",
        "from=2026-02-01&to=2026-01-01",
        "per_page=500",
    ],
)
def test_bad_filters_are_422(coordinator, query):
    response = coordinator.get(f"/api/audit?{query}")
    assert response.status_code == 422
    assert response.json["error"]["details"]["fields"]


def test_periods_select_by_time(coordinator, app):
    now = datetime.now(UTC)
    actor = Actor(user_id=None, name="reloj", role="admin")
    with app.app_context():
        for days, name in (
            (0, "hoy"),
            (8, "hace ocho días"),
            (40, "hace cuarenta"),
            (400, "antiguo"),
        ):
            audit.record(
                db.session(), actor, "created", "team", None, name, now=now - timedelta(days=days)
            )
        db.session.commit()

    def names(period):
        return {
            e["resource_name"]
            for e in coordinator.get(f"/api/audit?period={period}&q=reloj").json["items"]
        }

    assert names("today") == {"hoy"}
    assert "hace ocho días" not in names("week")
    assert names("year") >= {"hoy"} and "antiguo" not in names("year")


def test_newest_first_and_paginated(coordinator, make):
    for n in range(3):
        make.team(f"T{n}")
    page = coordinator.get("/api/audit?per_page=2&resource_type=team").json
    assert page["total"] == 3
    assert [e["resource_name"] for e in page["items"]] == ["T2", "T1"]


def test_below_the_count_limit_the_total_is_exact(coordinator, make):
    make.team("T0")
    page = coordinator.get("/api/audit?resource_type=team").json
    assert (page["total"], page["total_exact"]) == (1, True)


def test_past_the_count_limit_the_total_says_more_than(coordinator, make, monkeypatch):
    """Issue 14: counting a year of events took longer than the page; the count stops at
    COUNT_LIMIT (or the end of the page asked for) and says it is a lower bound."""
    monkeypatch.setattr(audit, "COUNT_LIMIT", 3)
    for n in range(7):
        make.team(f"T{n}")

    def page(query):
        found = coordinator.get(f"/api/audit?resource_type=team&{query}").json
        names = [e["resource_name"] for e in found["items"]]
        return found["total"], found["total_exact"], names

    assert page("per_page=2") == (3, False, ["T6", "T5"])
    # a page past the limit: counted up to its end, still "more than", the rows still there
    assert page("per_page=2&page=3") == (6, False, ["T2", "T1"])
    assert page("per_page=2&page=4") == (7, True, ["T0"])
    assert page("per_page=50&q=T3") == (1, True, ["T3"])


def test_agents_cannot_read_the_audit(as_agent, make):
    agent = make.agent()
    response = as_agent(agent).get("/api/audit")
    assert response.status_code == 403


def test_the_orm_refuses_to_change_or_remove_audit_events(app, make):
    make.team()
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent)).first()
        event.actor_name = "someone else"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        event = db.session.scalars(sa.select(AuditEvent)).first()
        db.session.delete(event)
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(sa.delete(AuditEvent))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.execute(sa.update(AuditEvent).values(actor_name="x"))
        db.session.rollback()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET actor_name = 'x'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_raw_changes_to_audit_events(app, make, statement):
    make.team()
    with app.app_context():
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(sa.text(statement))
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1


def test_postgresql_refuses_truncating_audit_events(app, backend, make):
    if backend.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has no such statement")
    make.team()
    with app.app_context():
        with (
            pytest.raises(sa.exc.DatabaseError, match="append-only"),
            db.engine.begin() as conn,
        ):
            conn.execute(sa.text("TRUNCATE audit_events"))
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 1
        db.session.remove()
