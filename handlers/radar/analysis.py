"""Radar analytics computed from visit rows (pure functions, no I/O).

A "person" is the identified customer when known, else the anonymous visitor id, so one
customer opening the link on two phones counts once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Person:
    key: str
    external_userid: str
    staff: str = ""
    level: int = 0
    visits: int = 0
    duration: int = 0
    best_progress: int = 0
    last_at: datetime | None = None
    last_duration: int = 0
    last_channel: str = ""
    parent: str = ""
    children: set[str] = field(default_factory=set)
    max_page: int = 0


def people(rows: list[dict[str, Any]]) -> dict[str, Person]:
    """One Person per visitor (merged by customer), with levels and who brought whom."""
    key_of = {r["visitor_id"]: r["external_userid"] or r["visitor_id"] for r in rows}
    out: dict[str, Person] = {}
    for r in sorted(rows, key=lambda r: r["started_at"]):
        key = key_of[r["visitor_id"]]
        p = out.setdefault(key, Person(key, r["external_userid"], r["root_userid"], r["level"]))
        p.external_userid = p.external_userid or r["external_userid"]
        if r["level"] <= p.level or not p.level:
            p.level, p.staff = r["level"], r["root_userid"]
            p.parent = key_of.get(r["parent_visitor_id"], r["parent_visitor_id"])
        p.visits += 1
        p.duration += r["duration_seconds"]
        p.best_progress = max(p.best_progress, r["progress"])
        p.max_page = max(p.max_page, r["max_page"])
        p.last_at, p.last_duration, p.last_channel = (
            r["started_at"],
            r["duration_seconds"],
            r["channel"],
        )
    for p in out.values():
        if p.parent and p.parent in out and p.parent != p.key:
            out[p.parent].children.add(p.key)
    return out


def _rate(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0.0


def overview(rows: list[dict[str, Any]], since: datetime, sends: int) -> dict[str, Any]:
    folks = people(rows)
    today_rows = [r for r in rows if r["started_at"] >= since]
    today = people(today_rows)
    measured = [r for r in rows if r["duration_seconds"] or r["progress"]]
    return {
        "sends": sends,
        "visitors": len(folks),
        "visitors_today": len(today),
        "identified": sum(1 for p in folks.values() if p.external_userid),
        "visits": len(rows),
        "visits_today": len(today_rows),
        "shared_visitors": sum(1 for p in folks.values() if p.level >= 2),
        "shared_visitors_today": sum(1 for p in today.values() if folks[p.key].level >= 2),
        "avg_duration": round(sum(r["duration_seconds"] for r in measured) / len(measured), 1)
        if measured
        else 0,
        "avg_progress": round(sum(r["progress"] for r in measured) / len(measured), 1)
        if measured
        else 0,
        "share_rate": _rate(sum(1 for p in folks.values() if p.children), len(folks)),
    }


def levels(folks: dict[str, Person]) -> list[dict[str, Any]]:
    by_level: dict[int, list[Person]] = defaultdict(list)
    for p in folks.values():
        by_level[p.level].append(p)
    return [
        {
            "level": lvl,
            "visitors": len(group),
            "sharers": sum(1 for p in group if p.children),
            "share_rate": _rate(sum(1 for p in group if p.children), len(group)),
        }
        for lvl, group in sorted(by_level.items())
    ]


def funnel(folks: dict[str, Person], sends: int, seconds: int) -> list[dict[str, Any]]:
    steps = [
        ("sent", "发送", sends),
        ("opened", "打开", len(folks)),
        ("viewed", f"查看超过{seconds}秒", sum(1 for p in folks.values() if p.duration > seconds)),
        ("forwarded", "被转发访问", sum(1 for p in folks.values() if p.level >= 2)),
    ]
    return [{"step": k, "label": label, "count": n} for k, label, n in steps]


def path_to(folks: dict[str, Person], key: str) -> list[str]:
    """The chain of person keys from the level-1 visitor down to `key`."""
    chain, seen = [], set()
    current: str | None = key
    while current and current in folks and current not in seen:
        seen.add(current)
        chain.append(current)
        current = folks[current].parent or None
    return list(reversed(chain))


def tree(folks: dict[str, Person], key: str, name: Any, depth: int = 0) -> dict[str, Any]:
    person = folks[key]
    node: dict[str, Any] = {"key": key, "name": name(person), "level": person.level}
    if depth < 30:
        node["children"] = [tree(folks, c, name, depth + 1) for c in sorted(person.children)]
    return node


def page_dropoff(folks: dict[str, Person], page_count: int) -> list[dict[str, Any]]:
    readers = [p.max_page for p in folks.values()]
    total = len(readers)
    return [
        {
            "page": n,
            "readers": sum(1 for m in readers if m >= n),
            "rate": _rate(sum(1 for m in readers if m >= n), total),
        }
        for n in range(1, page_count + 1)
    ]


def staff_rows(rows: list[dict[str, Any]], sends: dict[str, int]) -> list[dict[str, Any]]:
    folks = people(rows)
    out: dict[str, dict[str, Any]] = {}
    for userid in set(sends) | {r["root_userid"] for r in rows}:
        out[userid] = {
            "userid": userid,
            "sends": sends.get(userid, 0),
            "direct": 0,
            "visits": 0,
            "visitors": 0,
        }
    for r in rows:
        out[r["root_userid"]]["visits"] += 1
    for p in folks.values():
        out[p.staff]["visitors"] += 1
        out[p.staff]["direct"] += p.level == 1
    return sorted(out.values(), key=lambda s: (-s["visits"], s["userid"]))
