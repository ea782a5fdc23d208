"""When plans run: each period rule in the corp's zone, day 31 in short months, start and end
dates, quiet hours, content items in turn."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from handlers.sop import rules
from storage.sop import Freq, SopPlan

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
ALL = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))


def plan(**kw: object) -> SopPlan:
    values: dict[str, object] = {
        "id": 7,
        "freq": Freq.DAILY,
        "at_time": "12:00",
        "start_date": date(2024, 2, 1),
        "end_date": date(2024, 2, 5),
        "items": [{"text": "a"}, {"text": "b"}],
    }
    values.update(kw)
    return SopPlan(**values)


def local(found: list[datetime], tz: ZoneInfo = SH) -> list[str]:
    return [t.astimezone(tz).strftime("%Y-%m-%d %H:%M") for t in found]


def test_daily_within_start_and_end_in_the_corps_zone() -> None:
    found = list(rules.occurrences(plan(), *ALL, SH))
    assert local(found) == [f"2024-02-0{d} 12:00" for d in range(1, 6)]
    assert found[0] == datetime(2024, 2, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai is 04:00 UTC


def test_weekly_on_chosen_weekdays() -> None:
    weekly = plan(freq=Freq.WEEKLY, weekdays=[0, 4], end_date=date(2024, 2, 14))
    # 2024-02-01 is a Thursday: Fridays and Mondays
    assert local(list(rules.occurrences(weekly, *ALL, SH))) == [
        "2024-02-02 12:00",
        "2024-02-05 12:00",
        "2024-02-09 12:00",
        "2024-02-12 12:00",
    ]


def test_day_31_is_the_last_day_of_short_months_once() -> None:
    monthly = plan(
        freq=Freq.MONTHLY,
        month_days=[29, 30, 31],
        start_date=date(2024, 1, 1),
        end_date=date(2024, 4, 30),
    )
    assert local(list(rules.occurrences(monthly, *ALL, SH))) == [
        "2024-01-29 12:00",
        "2024-01-30 12:00",
        "2024-01-31 12:00",
        "2024-02-29 12:00",  # leap February: 29, 30 and 31 all mean the 29th, run once
        "2024-03-29 12:00",
        "2024-03-30 12:00",
        "2024-03-31 12:00",
        "2024-04-29 12:00",
        "2024-04-30 12:00",
    ]
    only_31 = plan(
        freq=Freq.MONTHLY, month_days=[31], start_date=date(2025, 1, 1), end_date=date(2025, 6, 30)
    )
    assert [t[:10] for t in local(list(rules.occurrences(only_31, *ALL, SH)))] == [
        "2025-01-31",
        "2025-02-28",
        "2025-03-31",
        "2025-04-30",
        "2025-05-31",
        "2025-06-30",
    ]


def test_once_and_dst_in_another_zone() -> None:
    once = plan(freq=Freq.ONCE, start_date=date(2024, 3, 10), end_date=date(2024, 3, 10))
    assert local(list(rules.occurrences(once, *ALL, SH))) == ["2024-03-10 12:00"]
    # New York springs forward on 2024-03-10: 12:00 local stays 12:00 on both sides.
    daily = plan(start_date=date(2024, 3, 9), end_date=date(2024, 3, 11))
    found = list(rules.occurrences(daily, *ALL, NY))
    assert local(found, NY) == ["2024-03-09 12:00", "2024-03-10 12:00", "2024-03-11 12:00"]
    assert [t.hour for t in found] == [17, 16, 16]  # UTC hours move, local time does not


def test_quiet_hours_across_midnight_and_items_in_turn() -> None:
    quiet = plan(quiet_start="22:00", quiet_end="08:00")
    night = datetime(2024, 2, 1, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    assert rules.in_quiet(quiet, night, SH)
    assert local([rules.after_quiet(quiet, night, SH)]) == ["2024-02-02 08:00"]
    day = datetime(2024, 2, 1, 4, 0, tzinfo=UTC)
    assert not rules.in_quiet(quiet, day, SH) and rules.after_quiet(quiet, day, SH) == day
    runs = list(rules.occurrences(plan(), *ALL, SH))
    assert [rules.item_index(plan(), t, SH) for t in runs] == [0, 1, 0, 1, 0]
    assert rules.run_key(plan(), runs[0], SH) == "7:2024-02-01T12:00"
