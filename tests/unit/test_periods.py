"""Audit periods are the coordinator's calendar periods, in the configured time zone."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import Invalid
from service.domain.periods import dates_range, period_range

MX = ZoneInfo("America/Mexico_City")  # UTC-6, no daylight saving since 2022


def test_today_starts_at_local_midnight():
    # 03:00 UTC on the 25th is still the 24th in Mexico City.
    now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    start, end = period_range("today", now, MX)
    assert start == datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_week_runs_monday_to_monday():
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    start, end = period_range("week", now, MX)
    assert start == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_month_and_year_cover_the_calendar_period():
    now = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 17:00 on Dec 31 in Mexico City
    assert period_range("month", now, MX) == (
        datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        datetime(2027, 1, 1, 6, 0, tzinfo=UTC),
    )
    assert period_range("year", now, MX) == (
        datetime(2026, 1, 1, 6, 0, tzinfo=UTC),
        datetime(2027, 1, 1, 6, 0, tzinfo=UTC),
    )


def test_periods_follow_daylight_saving():
    madrid = ZoneInfo("Europe/Madrid")
    start, end = period_range("today", datetime(2026, 3, 29, 12, 0, tzinfo=UTC), madrid)
    assert (end - start).total_seconds() == 23 * 3600  # the day clocks go forward


def test_unknown_period_is_invalid():
    with pytest.raises(Invalid) as raised:
        period_range("decade", datetime.now(UTC), MX)
    assert "period" in raised.value.details["fields"]


def test_date_range_includes_the_whole_last_day():
    start, end = dates_range(date(2026, 11, 1), date(2026, 11, 30), MX)
    assert start == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert end == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


def test_date_range_refuses_end_before_start():
    with pytest.raises(Invalid):
        dates_range(date(2026, 11, 30), date(2026, 11, 1), MX)
