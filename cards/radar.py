"""Radar's people-facing output: the alert card (pure: data in, dict out) and the small HTML
pages a customer sees on the landing link (rendered from `cards/templates/radar/`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "radar"
pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_page(name: str, **values: Any) -> str:
    return pages.get_template(name).render(**values)


def duration_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}秒"
    minutes, sec = divmod(seconds, 60)
    return f"{minutes}分{sec}秒" if sec else f"{minutes}分钟"


@dataclass(frozen=True)
class Alert:
    customer_name: str
    radar_title: str
    level: int
    forwarder: str  # who forwarded it (level >= 2), shown by name
    at_text: str  # local time, "HH:MM"
    profile_url: str
    link_title: str = "查看客户画像"  # "查看线索" when the staff member does not follow them


# WeCom's template card text limits (characters, as its documentation recommends; longer
# text is cut off or wrapped on phones). Every alert field is kept within them.
LIMITS = {
    "source.desc": 13,
    "main_title.title": 26,
    "main_title.desc": 30,
    "horizontal_content_list.keyname": 5,
    "horizontal_content_list.value": 26,
    "jump_list.title": 13,
}
ADVICE = "及时跟进，不错过高意向客户"  # the follow-up advice under the title


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def alert_title(customer_name: str, radar_title: str) -> str:
    """「客户 X 正在查看《…》」 within the title limit: the customer's name keeps up to 8
    characters, the radar's title gets the rest."""
    fixed = len("客户  正在查看《》")
    name = _clip(customer_name, 8)
    room = LIMITS["main_title.title"] - fixed - len(name)
    return f"客户 {name} 正在查看《{_clip(radar_title, room)}》"


def too_long(card: dict[str, Any]) -> list[str]:
    """The card fields over WeCom's limits, as "field: text" (empty when the card fits)."""
    found = []
    for name, limit in LIMITS.items():
        part, key = name.split(".")
        value = card.get(part, {})
        texts = [value.get(key, "")] if isinstance(value, dict) else [v[key] for v in value]
        found += [f"{name}: {t}" for t in texts if len(t) > limit]
    return found


def alert_card(alert: Alert, task_id: str, done_key: str) -> dict[str, Any]:
    """「客户 X 正在查看《…》」 with the profile (or lead) link and 已跟进 (a callback button)."""
    value_max = LIMITS["horizontal_content_list.value"]
    rows = [{"keyname": "访问时间", "value": _clip(alert.at_text, value_max)}]
    if alert.level >= 2:
        rows.append({"keyname": "客户层级", "value": f"{alert.level}级"})
        rows.append({"keyname": "转发人", "value": _clip(alert.forwarder or "访客", value_max)})
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "智能雷达"},
        "main_title": {
            "title": alert_title(alert.customer_name, alert.radar_title),
            "desc": ADVICE,
        },
        "horizontal_content_list": rows,
        "card_action": {"type": 1, "url": alert.profile_url},
        "button_list": [
            {"type": 1, "text": alert.link_title, "style": 2, "url": alert.profile_url},
            {"type": 0, "text": "已跟进", "style": 1, "key": done_key},
        ],
    }


def followed_card(sent: dict[str, Any], name: str, at_text: str) -> dict[str, Any]:
    """The alert once someone pressed 已跟进: 「已由 张伟 跟进 · 14:32」, no buttons left."""
    url = sent.get("card_action", {}).get("url", "")
    links = [b for b in sent.get("button_list", []) if b.get("type") == 1]
    link_title = links[0]["text"] if links else "查看客户画像"
    return {
        "card_type": "text_notice",
        "source": sent.get("source", {"desc": "智能雷达"}),
        "main_title": {
            "title": sent.get("main_title", {}).get("title", "客户正在查看雷达"),
            "desc": f"已由 {_clip(name, 16)} 跟进 · {at_text}",
        },
        "horizontal_content_list": sent.get("horizontal_content_list", []),
        "jump_list": [{"type": 1, "title": link_title, "url": url}],
        "card_action": {"type": 1, "url": url},
    }


def timeline_text(radar_title: str, duration: int | None, progress: int | None) -> str:
    text = f"查看了雷达《{_clip(radar_title, 40)}》"
    if duration is not None:
        text += f"，停留{duration_text(duration)}"
    if progress is not None:
        text += f"，进度{progress}%"
    return text


@dataclass(frozen=True)
class DaySummary:
    visits: int
    visitors: int
    customers: int  # visitors known as customers
    by_radar: list[tuple[str, int]]  # (title, visits), most visited first


def today_card(day: DaySummary, url: str) -> dict[str, Any]:
    """The answer to 雷达: today's visits to the radars I sent."""
    rows = [{"keyname": "访客", "value": f"{day.visitors}人（客户 {day.customers} 人）"}]
    per_radar = "；".join(f"《{_clip(t, 12)}》{n}次" for t, n in day.by_radar[:5])
    return {
        "card_type": "text_notice",
        "source": {"desc": "智能雷达"},
        "main_title": {"title": "今天的雷达访问", "desc": "我发出的雷达"},
        "emphasis_content": {"title": str(day.visits), "desc": "今日访问次数"},
        "sub_title_text": per_radar,
        "horizontal_content_list": rows,
        "jump_list": [{"type": 1, "title": "查看雷达数据", "url": url}],
        "card_action": {"type": 1, "url": url},
    }
