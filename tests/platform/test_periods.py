from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.periods import Rule, at_local, month_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def local_days(rule: Rule, start: datetime, end: datetime, tz: ZoneInfo) -> list[str]:
    return [i.astimezone(tz).strftime("%Y-%m-%d %H:%M") for i in rule.occurrences(start, end, tz)]


def test_daily_in_corp_time_zone() -> None:
    start = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    end = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # 20:00 on the 3rd
    got = list(Rule.daily(time(9, 30)).occurrences(start, end, SHANGHAI))
    assert got[0] == datetime(2024, 6, 1, 1, 30, tzinfo=UTC)
    assert local_days(Rule.daily(time(9, 30)), start, end, SHANGHAI) == [
        "2024-06-01 09:30",
        "2024-06-02 09:30",
        "2024-06-03 09:30",
    ]
    # 07:00 on the 1st is before the window opens (08:00): not included.
    assert len(list(Rule.daily(time(7)).occurrences(start, end, SHANGHAI))) == 2


def test_monthly_31st_is_the_last_day_of_short_months() -> None:
    start = datetime(2024, 1, 1, tzinfo=SHANGHAI)
    end = datetime(2025, 3, 1, tzinfo=SHANGHAI)
    got = local_days(Rule.monthly(31, time(10)), start, end, SHANGHAI)
    assert got[:6] == [
        "2024-01-31 10:00",
        "2024-02-29 10:00",  # leap year
        "2024-03-31 10:00",
        "2024-04-30 10:00",  # 30-day month
        "2024-05-31 10:00",
        "2024-06-30 10:00",
    ]
    assert "2025-02-28 10:00" in got  # not a leap year
    assert len(got) == 14


@pytest.mark.parametrize(
    ("day", "feb_2023", "feb_2024", "apr"),
    [(29, 28, 29, 29), (30, 28, 29, 30), (31, 28, 29, 30), (15, 15, 15, 15)],
)
def test_month_day(day: int, feb_2023: int, feb_2024: int, apr: int) -> None:
    assert month_day(2023, 2, day).day == feb_2023
    assert month_day(2024, 2, day).day == feb_2024
    assert month_day(2024, 4, day).day == apr


def test_weekly() -> None:
    start = datetime(2024, 6, 1, tzinfo=SHANGHAI)  # a Saturday
    end = datetime(2024, 6, 15, tzinfo=SHANGHAI)
    got = local_days(Rule.weekly([0, 4], time(8)), start, end, SHANGHAI)
    assert got == ["2024-06-03 08:00", "2024-06-07 08:00", "2024-06-10 08:00", "2024-06-14 08:00"]
    with pytest.raises(ValueError):
        Rule.weekly(7, time(8))
    with pytest.raises(ValueError):
        Rule.monthly(32, time(8))


def test_daily_across_dst_keeps_the_wall_clock_time() -> None:
    start = datetime(2024, 3, 9, tzinfo=NEW_YORK)
    end = datetime(2024, 3, 12, tzinfo=NEW_YORK)
    got = list(Rule.daily(time(9)).occurrences(start, end, NEW_YORK))
    assert [g.astimezone(NEW_YORK).hour for g in got] == [9, 9, 9]
    # The UTC instants are 23 h apart across the spring-forward night, not 24.
    assert (got[1] - got[0]).total_seconds() == 23 * 3600
    # 02:30 does not exist on 2024-03-10: it moves forward by the gap (03:30 EDT).
    gap = at_local(date(2024, 3, 10), time(2, 30), NEW_YORK)
    assert gap.astimezone(NEW_YORK).strftime("%H:%M") == "03:30"
    # 01:30 happens twice on 2024-11-03: the first one (EDT) is taken.
    twice = at_local(date(2024, 11, 3), time(1, 30), NEW_YORK)
    assert twice == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_next_after() -> None:
    rule = Rule.monthly(31, time(18))
    after = datetime(2024, 4, 30, 10, 0, tzinfo=UTC)  # 18:00 local on the 30th
    assert rule.next_after(after, SHANGHAI) == datetime(2024, 5, 31, 10, 0, tzinfo=UTC)
    before = datetime(2024, 4, 30, 9, 59, tzinfo=UTC)
    assert rule.next_after(before, SHANGHAI) == datetime(2024, 4, 30, 10, 0, tzinfo=UTC)
