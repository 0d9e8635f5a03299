"""Audit periods (today, this week, this month, this year, from/to) as UTC ranges.

Computed in the service's configured time zone, so "today" means the coordinator's today.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from service.domain.errors import Invalid

PERIODS: Final = ("today", "week", "month", "year")


EARLIEST: Final = datetime.min.replace(tzinfo=UTC)


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    try:
        return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC falls before year 1
        return EARLIEST


def period_range(period: str, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Half-open UTC range [start, end) of the period that contains *now* in *tz*.

    Weeks start on Monday (ISO 8601).

    :raise Invalid: unknown period name.
    """
    local = now.astimezone(tz).date()
    if period == "today":
        first, after = local, local + timedelta(days=1)
    elif period == "week":
        first = local - timedelta(days=local.weekday())
        after = first + timedelta(days=7)
    elif period == "month":
        first = local.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    elif period == "year":
        first = local.replace(month=1, day=1)
        after = first.replace(year=first.year + 1)
    else:
        raise Invalid.field("period", f"must be one of {', '.join(PERIODS)}", "period.unknown")
    return _start_of(first, tz), _start_of(after, tz)


def dates_range(
    start: date | None, end: date | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """UTC range for calendar dates in *tz*; *end* is inclusive (the whole day).

    :raise Invalid: *end* is before *start*.
    """
    if start and end and end < start:
        raise Invalid.field("to", "must not be before 'from'", "period.reversed")
    return (
        _start_of(start, tz) if start else None,
        # the day after 9999-12-31 does not exist: no upper bound then
        _start_of(end + timedelta(days=1), tz) if end and end < date.max else None,
    )
