"""The audit log's rules (service/domain/audit.py) one by one: what an event records, which
changes make an ``updated`` event, and what each search filter lets through, at the edges
of its periods and dates, in the service's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service.domain import audit
from service.domain.actor import Actor
from service.domain.errors import Forbidden, Invalid
from service.extensions import db
from service.models import AuditEvent

MX = ZoneInfo("America/Mexico_City")  # UTC-6 all year
# Wednesday 2026-11-25, 12:00 in Mexico City
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
ADMIN = Actor(user_id=None, name="Ada Admin", role="admin")
CARLA = Actor(user_id=41, name="Carla Coordinadora", role="coordinator", request_id="req-9")


def local(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    """A Mexico City wall-clock time in 2026, as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=MX).astimezone(UTC)


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session()
        db.session.rollback()


def stored(session) -> list[AuditEvent]:
    session.flush()
    return list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


# ---- what one event records -----------------------------------------------------------------
def test_an_event_records_who_did_what_to_what(session):
    before, after, details = {"icon": "💎"}, {"icon": "👑"}, {"source": "import"}
    entry = audit.record(
        session,
        CARLA,
        "contact_moved",
        "cartera",
        7,
        "Premium Norte",
        before=before,
        after=after,
        details=details,
        related_name="José Pérez",
        related_id=12,
        now=NOW,
    )
    (event,) = stored(session)
    assert event is entry
    assert (event.actor_user_id, event.actor_name, event.request_id) == (
        41,
        "Carla Coordinadora",
        "req-9",
    )
    assert (event.event, event.resource_type, event.resource_id, event.resource_name) == (
        "contact_moved",
        "cartera",
        7,
        "Premium Norte",
    )
    assert (event.related_name, event.related_id) == ("José Pérez", 12)
    assert (event.before, event.after, event.details) == (before, after, details)
    assert event.occurred_at == NOW
    # searchable by the actor, the resource and the related name, folded
    assert event.search_key == "carla coordinadora | premium norte | jose perez"


def test_an_event_keeps_a_copy_of_what_it_was_given(session):
    after = {"name": "Premium"}
    audit.record(session, ADMIN, "created", "cartera", 1, "Premium", after=after)
    after["name"] = "changed later"
    (event,) = stored(session)
    assert event.after == {"name": "Premium"}
    assert (event.before, event.details, event.related_name, event.related_id) == (
        None,
        None,
        None,
        None,
    )
    assert event.search_key == "ada admin | premium"
    # without a time given, the event is stamped now
    assert abs(event.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_only_the_changed_fields_are_kept():
    before = {"name": "Premium", "icon": "💎", "color": None, "gone": 1}
    after = {"name": "Premium", "icon": "👑", "color": "#112233", "new": 2}
    assert audit.changes(before, after) == (
        {"icon": "💎", "color": None, "new": None},
        {"icon": "👑", "color": "#112233", "new": 2},
    )
    assert audit.changes(before, {"name": "Premium"}) == ({}, {})


def test_an_update_records_only_what_changed_and_nothing_when_nothing_did(session):
    before = {"name": "Premium", "icon": "💎"}
    assert not audit.record_changes(session, CARLA, "cartera", 7, "Premium", before, before)
    assert stored(session) == []
    after = {"name": "Premium", "icon": "👑"}
    assert audit.record_changes(session, CARLA, "cartera", 7, "Premium", before, after)
    (event,) = stored(session)
    assert (event.event, event.resource_type, event.resource_id, event.resource_name) == (
        "updated",
        "cartera",
        7,
        "Premium",
    )
    assert (event.actor_name, event.before, event.after) == (
        "Carla Coordinadora",
        {"icon": "💎"},
        {"icon": "👑"},
    )


# ---- searching ------------------------------------------------------------------------------
def search(session, actor=ADMIN, page=1, per_page=50, now=NOW, **query):
    found = audit.search(
        session, actor, audit.AuditQuery(**query), now=now, tz=MX, page=page, per_page=per_page
    )
    return [e.resource_name for e in found.items], found.total


def record(session, name, when, event="created", resource_type="team", resource_id=None, **kw):
    audit.record(session, ADMIN, event, resource_type, resource_id, name, now=when, **kw)


def test_search_by_text_matches_actor_resource_and_related_names(session):
    record(session, "Premium Norte", NOW)
    record(session, "Sur", NOW, related_name="Ana Núñez")
    record(session, "50% off", NOW)
    audit.record(session, CARLA, "created", "team", None, "Oeste", now=NOW)
    session.flush()
    assert search(session, q="premium")[0] == ["Premium Norte"]
    assert search(session, q="  NUÑEZ ")[0] == ["Sur"]
    assert search(session, q="coordinadora")[0] == ["Oeste"]
    # the text is matched as written: % and _ are no wildcards
    assert search(session, q="50%")[0] == ["50% off"]
    assert search(session, q="n_rte")[0] == []
    assert search(session, q="%")[0] == ["50% off"]


def test_search_by_event_resource_type_and_id(session):
    record(session, "Premium", NOW, event="created", resource_type="cartera", resource_id=1)
    record(session, "Premium", NOW, event="updated", resource_type="cartera", resource_id=1)
    record(session, "Sur", NOW, event="updated", resource_type="cartera", resource_id=2)
    record(session, "Ana", NOW, event="updated", resource_type="contact", resource_id=1)
    session.flush()
    assert search(session, event="created") == (["Premium"], 1)
    assert search(session, event="updated")[1] == 3
    assert search(session, resource_type="contact") == (["Ana"], 1)
    assert search(session, resource_type="cartera")[1] == 3
    assert sorted(search(session, resource_id=1)[0]) == ["Ana", "Premium", "Premium"]
    assert search(session, resource_type="cartera", resource_id=2) == (["Sur"], 1)
    assert search(session, resource_id=0) == ([], 0)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"event": "renamed"}, "event", "must be one of " + ", ".join(audit.EVENTS)),
        (
            {"resource_type": "planet"},
            "resource_type",
            "must be one of " + ", ".join(audit.RESOURCE_TYPES),
        ),
    ],
)
def test_unknown_event_or_resource_type(session, query, field, message):
    with pytest.raises(Invalid) as caught:
        search(session, **query)
    assert caught.value.message == f"{field}: {message}"
    assert caught.value.details == {"fields": {field: [message]}}


def test_agents_do_not_read_the_audit_log(session):
    with pytest.raises(Forbidden):
        search(session, actor=Actor(user_id=None, name="Luis", role="agent", agent_id=1))


def test_a_period_is_read_in_the_service_time_zone_and_is_half_open(session):
    record(session, "yesterday, late", local(24, 23, 59))  # already 25th in UTC
    record(session, "midnight", local(25))
    record(session, "noon", local(25, 12))
    record(session, "tomorrow", local(26))  # the end: not in today
    record(session, "monday", local(23))
    record(session, "last sunday", local(22, 23, 59))
    record(session, "first of the month", local(1))
    record(session, "october", local(31, 23, 59, month=10))
    record(session, "new year", local(1, month=1))
    record(session, "last year", datetime(2026, 1, 1, tzinfo=MX).astimezone(UTC) - timedelta(1))
    session.flush()

    def names(period):
        return set(search(session, period=period)[0])

    assert names("today") == {"midnight", "noon"}
    assert names("week") == {"yesterday, late", "midnight", "noon", "tomorrow", "monday"}
    assert names("month") == names("week") | {"last sunday", "first of the month"}
    assert names("year") == names("month") | {"october", "new year"}
    # another moment, another today (the period is the one containing *now*)
    assert set(search(session, period="today", now=local(24, 12))[0]) == {"yesterday, late"}


def test_dates_are_whole_days_in_the_service_time_zone(session):
    record(session, "before", local(23, 23, 59))
    record(session, "first", local(24))
    record(session, "last", local(25, 23, 59))
    record(session, "after", local(26))
    session.flush()

    def names(**dates):
        return set(search(session, **dates)[0])

    day = date(2026, 11, 24)
    assert names(date_from=day, date_to=day + timedelta(1)) == {"first", "last"}
    assert names(date_from=day) == {"first", "last", "after"}
    assert names(date_to=day) == {"before", "first"}
    assert names(date_to=date.max) == {"before", "first", "last", "after"}


def test_newest_first_then_the_latest_recorded_and_paginated(session):
    record(session, "old", NOW - timedelta(hours=2))
    record(session, "newest", NOW)
    record(session, "tie, first recorded", NOW - timedelta(hours=1))
    record(session, "tie, last recorded", NOW - timedelta(hours=1))
    session.flush()
    newest_first = ["newest", "tie, last recorded", "tie, first recorded", "old"]
    assert search(session) == (newest_first, 4)
    # the same order whichever index a filter makes the database read
    assert search(session, resource_type="team") == (newest_first, 4)
    assert search(session, event="created", q="tie") == (newest_first[1:3], 2)
    assert search(session, page=2, per_page=3) == (["old"], 4)
    assert search(session, page=1, per_page=1) == (["newest"], 4)
