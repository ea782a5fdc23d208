"""Leaderboard cards: pure functions from typed data to template_card dicts (REFERENCE.md §3).

Text lives in `cards/templates/leaderboard/*.j2`, one block per card part. Every card jumps
to the sidebar leaderboard page (`card_action`, required for text_notice) and has a jump link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=False,  # card text is JSON, not HTML
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=False,
)

# WeCom's advised maximum lengths for text_notice parts (characters); longer text is cut off
# on the phone, so it is clipped here and the card links to the full page.
MAX_SUB_TITLE = 112
MAX_TITLE_DESC = 30

METRIC_LABELS = {"new_customers": "邀请客户成为企微客户", "group_joins": "邀请客户加入群聊"}
UNITS = {"new_customers": "位", "group_joins": "次"}
UNIT_NOUNS = {"new_customers": "客户", "group_joins": "入群"}


@dataclass(frozen=True)
class RankLine:
    rank: int
    name: str
    count: int


@dataclass(frozen=True)
class CardActivity:
    id: int
    name: str
    metric: str
    top_n: int
    description: str = ""
    start: str = ""  # already formatted in the corp's time zone
    end: str = ""


@dataclass(frozen=True)
class Standing:
    """One participant's place: `gap_*` are what is missing to reach the cutoff."""

    rank: int
    count: int
    gap_places: int = 0
    gap_count: int = 0
    movement: int | None = None  # +3 = up three places since yesterday
    top: list[RankLine] = field(default_factory=list)

    @property
    def on_list(self) -> bool:
        return self.gap_places <= 0 and self.count > 0


def _blocks(template_name: str, **values: Any) -> dict[str, str]:
    template = _ENV.get_template(f"leaderboard/{template_name}.j2")
    context = template.new_context(values)
    return {b: "".join(fn(context)).strip() for b, fn in template.blocks.items()}


def _common(activity: CardActivity) -> dict[str, Any]:
    return {
        "name": activity.name,
        "metric_label": METRIC_LABELS.get(activity.metric, activity.metric),
        "unit": UNITS.get(activity.metric, ""),
        "unit_noun": UNIT_NOUNS.get(activity.metric, ""),
        "top_n": activity.top_n,
        "description": activity.description,
        "start": activity.start,
        "end": activity.end,
    }


def _text_notice(parts: dict[str, str], url: str, extra: dict[str, Any]) -> dict[str, Any]:
    labels = _blocks("labels")
    card: dict[str, Any] = {
        "card_type": "text_notice",
        "source": {"desc": labels["source"]},
        "main_title": {"title": parts["title"], "desc": clip(parts["desc"], MAX_TITLE_DESC)},
    }
    if parts.get("emphasis"):
        card["emphasis_content"] = {"title": parts["emphasis"], "desc": parts["emphasis_desc"]}
    if parts.get("sub"):
        card["sub_title_text"] = clip(parts["sub"], MAX_SUB_TITLE)
    card.update(extra)
    card["jump_list"] = [{"type": 1, "title": labels["button"], "url": url}]
    card["card_action"] = {"type": 1, "url": url}
    return card


def _kv(key: str, value: str) -> dict[str, Any]:
    return {"keyname": key[:20], "value": value[:60]}


def clip(text: str, limit: int, more: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(more))] + more


def start_card(activity: CardActivity, url: str) -> dict[str, Any]:
    """The whole 活动说明 does not fit a card: a short part, then a link to the page."""
    parts = _blocks("start", **_common(activity))
    parts["sub"] = clip(parts["sub"], MAX_SUB_TITLE, parts["more"])
    labels = _blocks("labels")
    extra = {"horizontal_content_list": [_kv(labels["time_key"], parts["time"])]}
    return _text_notice(parts, url, extra)


def daily_card(activity: CardActivity, me: Standing, url: str) -> dict[str, Any]:
    values = _common(activity) | {
        "my_rank": me.rank,
        "movement": me.movement,
        "on_list": me.on_list,
        "gap_places": me.gap_places,
        "gap_count": me.gap_count,
        "top": me.top[:3],
    }
    parts = _blocks("daily", **values)
    labels = _blocks("labels")
    rows = [_kv(labels["count_key"], f"{me.count}{values['unit']}")]
    if me.top:
        rows.append(_kv(labels["top_key"], parts["top"]))
    return _text_notice(parts, url, {"horizontal_content_list": rows})


def crossing_card(kind: str, activity: CardActivity, me: Standing, url: str) -> dict[str, Any]:
    """kind: about_to_rank | on_list | dropped."""
    values = _common(activity) | {
        "my_rank": me.rank,
        "my_count": me.count,
        "gap_places": me.gap_places,
        "gap_count": me.gap_count,
    }
    return _text_notice(_blocks(kind, **values), url, {})


def end_card(activity: CardActivity, me: Standing, url: str) -> dict[str, Any]:
    values = _common(activity) | {
        "my_rank": me.rank,
        "on_list": me.on_list,
        "my_count": me.count,
        "top": me.top[: min(activity.top_n, 10)],
    }
    return _text_notice(_blocks("end", **values), url, {})


def report_card(
    activity: CardActivity,
    top: list[RankLine],
    participants: int,
    total: int,
    image_url: str,
    data_url: str,
) -> dict[str, Any]:
    """The admins' closing report: a news_notice whose image is the TOP10 chart."""
    values = _common(activity) | {"top": top, "participants": participants, "total": total}
    parts = _blocks("report", **values)
    labels = _blocks("labels")
    return {
        "card_type": "news_notice",
        "source": {"desc": labels["source"]},
        "main_title": {"title": parts["title"], "desc": parts["desc"]},
        "card_image": {"url": image_url, "aspect_ratio": 1.6},
        "vertical_content_list": [{"title": parts["desc"], "desc": parts["sub"]}],
        "jump_list": [{"type": 1, "title": labels["report_button"], "url": data_url}],
        "card_action": {"type": 1, "url": data_url},
    }


def _place(activity: CardActivity, me: Standing) -> str:
    unit = UNITS.get(activity.metric, "")
    if me.on_list:
        return f"第{me.rank}名 · {me.count}{unit} · 已上榜"
    return f"第{me.rank}名 · {me.count}{unit} · 差{me.gap_count}{unit}上榜"


def ranks_card(mine: list[tuple[CardActivity, Standing]], url: str) -> dict[str, Any]:
    """The answer to 排名: my place in each running activity (WeCom shows ≤ 6 rows)."""
    labels = _blocks("labels")
    card: dict[str, Any] = {
        "card_type": "text_notice",
        "source": {"desc": labels["source"]},
        "main_title": {"title": "我的排名", "desc": f"进行中的活动 {len(mine)} 个"},
    }
    if len(mine) == 1:
        activity, me = mine[0]
        card["emphasis_content"] = {"title": f"第 {me.rank} 名", "desc": activity.name[:20]}
    card["horizontal_content_list"] = [_kv(a.name, _place(a, me)) for a, me in mine[:6]]
    card["jump_list"] = [{"type": 1, "title": labels["button"], "url": url}]
    card["card_action"] = {"type": 1, "url": url}
    return card


def near_card(card: dict[str, Any], task_id: str, mine_key: str) -> dict[str, Any]:
    """The 即将上榜 notice as a button card: 查看我的客户 (callback) and the page (link).
    Button cards have no emphasis or jump list, so those become a row and a link button."""
    out = {k: v for k, v in card.items() if k not in ("emphasis_content", "jump_list")}
    out.update(card_type="button_interaction", task_id=task_id)
    emphasis = card.get("emphasis_content")
    if emphasis:
        out["horizontal_content_list"] = [_kv("当前排名", emphasis["title"])]
    jump = (card.get("jump_list") or [{}])[0]
    out["button_list"] = [
        {"type": 0, "text": "查看我的客户", "style": 1, "key": mine_key},
        {
            "type": 1,
            "text": jump.get("title", "查看排行榜"),
            "style": 2,
            "url": jump.get("url", ""),
        },
    ]
    return out


def my_customers_card(
    card: dict[str, Any], customers: list[tuple[str, str]], total: int
) -> dict[str, Any]:
    """The 即将上榜 card after 查看我的客户: my latest credited customers (name, local time)."""
    out = dict(card)
    out.pop("emphasis_content", None)
    rows = [_kv(name or "未知客户", when) for name, when in customers[:5]]
    out["horizontal_content_list"] = [_kv("本活动我的客户", f"{total}位"), *rows]
    return out
