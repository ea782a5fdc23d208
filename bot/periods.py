"""Calendar rules in the corp's time zone: daily, weekly and monthly times as UTC instants.

Arithmetic is done on local dates and wall-clock times, then converted with zoneinfo, so a
DST change never shifts a run by an hour. A wall-clock time that does not exist on a day (the
spring-forward gap) moves forward by the gap's length (02:30 → 03:30); an ambiguous one (fall
back) is its first occurrence. Monthly days 29-31 mean the last day of a shorter month."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum


class Freq(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def at_local(day: date, at: time, tz: tzinfo) -> datetime:
    """`day` at wall-clock `at` in `tz`, as a UTC instant."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def month_day(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or its last day when the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Rule:
    """`Rule.daily(time(18))`, `Rule.weekly([0, 3], time(9))` (Monday=0),
    `Rule.monthly(31, time(9))` (the last day in 30-day months and February)."""

    freq: Freq
    at: time
    weekdays: frozenset[int] = field(default_factory=frozenset)
    day: int = 1

    @classmethod
    def daily(cls, at: time) -> Rule:
        return cls(Freq.DAILY, at)

    @classmethod
    def weekly(cls, weekdays: list[int] | int, at: time) -> Rule:
        days = frozenset([weekdays] if isinstance(weekdays, int) else weekdays)
        if not days or not days <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return cls(Freq.WEEKLY, at, weekdays=days)

    @classmethod
    def monthly(cls, day: int, at: time) -> Rule:
        if not 1 <= day <= 31:
            raise ValueError("day of month is 1 to 31")
        return cls(Freq.MONTHLY, at, day=day)

    def days(self, first: date, last: date) -> Iterator[date]:
        """The local dates in [first, last] this rule fires on."""
        if self.freq is Freq.MONTHLY:
            year, month = first.year, first.month
            while (year, month) <= (last.year, last.month):
                d = month_day(year, month, self.day)
                if first <= d <= last:
                    yield d
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return
        d = first
        while d <= last:
            if self.freq is Freq.DAILY or d.weekday() in self.weekdays:
                yield d
            d += timedelta(days=1)

    def occurrences(self, start: datetime, end: datetime, tz: tzinfo) -> Iterator[datetime]:
        """UTC instants in [start, end) at which the rule fires, in `tz`'s calendar."""
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        for d in self.days(first, last):
            instant = at_local(d, self.at, tz)
            if start <= instant < end:
                yield instant

    def next_after(self, after: datetime, tz: tzinfo) -> datetime:
        """The first instant strictly after `after` (looks ahead up to two months)."""
        start = after + timedelta(microseconds=1)
        return next(self.occurrences(start, start + timedelta(days=63), tz))
