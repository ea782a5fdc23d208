"""When a plan runs: its period rules in the corp's zone (bot.periods), its quiet hours and
which content item each run uses. Pure functions of the plan row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.periods import Rule, at_local
from storage.sop import Freq, SopPlan


def parse_hhmm(text: str) -> time:
    hour, minute = (int(p) for p in text.split(":"))
    return time(hour, minute)


def rules_of(plan: SopPlan) -> list[Rule]:
    at = parse_hhmm(plan.at_time)
    if plan.freq == Freq.DAILY:
        return [Rule.daily(at)]
    if plan.freq == Freq.WEEKLY:
        return [Rule.weekly(sorted(plan.weekdays), at)] if plan.weekdays else []
    if plan.freq == Freq.MONTHLY:
        return [Rule.monthly(d, at) for d in sorted(set(plan.month_days))]
    return []


def occurrences(plan: SopPlan, start: datetime, end: datetime, tz: tzinfo) -> Iterator[datetime]:
    """The plan's run instants (UTC) in [start, end), within its start and end dates; the
    monthly days 29-31 falling on one short month's last day run once."""
    first = at_local(plan.start_date, time(0), tz)
    last = at_local(plan.end_date + timedelta(days=1), time(0), tz) if plan.end_date else None
    lo = max(start, first)
    hi = min(end, last) if last else end
    if lo >= hi:
        return
    if plan.freq == Freq.ONCE:
        instant = at_local(plan.start_date, parse_hhmm(plan.at_time), tz)
        if lo <= instant < hi:
            yield instant
        return
    seen: set[datetime] = set()
    found = [t for rule in rules_of(plan) for t in rule.occurrences(lo, hi, tz)]
    for instant in sorted(found):
        if instant not in seen:
            seen.add(instant)
            yield instant


def run_key(plan: SopPlan, due: datetime, tz: tzinfo) -> str:
    return f"{plan.id}:{due.astimezone(tz):%Y-%m-%dT%H:%M}"


def item_index(plan: SopPlan, due: datetime, tz: tzinfo) -> int:
    """Runs take the content items in turn: the n-th run since the start uses item n mod len."""
    if not plan.items:
        return 0
    start = at_local(plan.start_date, time(0), tz)
    before = sum(1 for _ in occurrences(plan, start, due, tz))
    return before % len(plan.items)


def in_quiet(plan: SopPlan, instant: datetime, tz: tzinfo) -> bool:
    """Quiet hours [start, end) in local time; a window may cross midnight (22:00-08:00)."""
    if not plan.quiet_start or not plan.quiet_end:
        return False
    qs, qe = parse_hhmm(plan.quiet_start), parse_hhmm(plan.quiet_end)
    now = instant.astimezone(tz).time().replace(tzinfo=None)
    if qs <= qe:
        return qs <= now < qe
    return now >= qs or now < qe


def after_quiet(plan: SopPlan, instant: datetime, tz: tzinfo) -> datetime:
    """`instant`, or the end of the quiet hours it falls in."""
    if not in_quiet(plan, instant, tz):
        return instant
    qe = parse_hhmm(plan.quiet_end)
    local_day = instant.astimezone(tz).date()
    for day in (local_day, local_day + timedelta(days=1)):
        candidate = at_local(day, qe, tz)
        if candidate > instant:
            return candidate
    return instant  # unreachable: the end of a window is within a day


def next_runs(plan: SopPlan, now: datetime, tz: tzinfo, count: int) -> list[datetime]:
    """The next `count` runs from `now`, looking up to a year ahead (the calendar)."""
    out: list[datetime] = []
    for instant in occurrences(plan, now, now + timedelta(days=366), tz):
        out.append(instant)
        if len(out) >= count:
            break
    return out


def local_date(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
