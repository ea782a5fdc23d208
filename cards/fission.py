"""Fission's people-facing output: the customer pages (`cards/templates/fission/`), the
helper's welcome, the reasons a help was refused, and the staff cards (pure functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "fission"
pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

# What the helper is told (and admins see) for each outcome.
REASONS = {
    "counted": "助力成功",
    "old_customer": "助力失败：你已是老客户，本活动仅限新朋友助力",
    "already_helped": "助力失败：你已为本活动助力过（每人限助力一次）",
    "outside_window": "助力失败：不在活动时间内",
    "self": "助力失败：不能为自己助力",
    "revoked": "助力已失效：助力后过早删除了好友",
    "helper_limit": "助力失败：你的助力次数已用完",
}
OUTCOME_LABELS = {
    "counted": "助力成功",
    "old_customer": "老客户",
    "already_helped": "已助力过",
    "outside_window": "不在活动时间",
    "self": "自己助力",
    "revoked": "已撤销",
    "helper_limit": "超出助力次数",
}


def render_page(name: str, **values: Any) -> str:
    return pages.get_template(name).render(**values)


def welcome_text(custom: str, outcome: str, inviter: str, activity: str, link: str) -> str:
    """The helper's welcome: the admin's text, the help's outcome, and their own link."""
    lines = [custom.strip()] if custom.strip() else [f"欢迎参加「{activity}」！"]
    reason = REASONS.get(outcome, "")
    if outcome in ("counted", "pending") and inviter:
        reason = f"感谢你为 {inviter} 助力！"
    if reason:
        lines.append(reason)
    lines.append(f"你也可以参加活动、邀请好友助力赢奖品：{link}")
    return "\n".join(lines)


def won_card(
    *, customer: str, activity: str, prize: str, helps: int, url: str, task_id: str, given_key: str
) -> dict[str, Any]:
    """To the staff member who looks after a winner: contact them, then press 已发放."""
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "裂变活动"},
        "main_title": {"title": f"{customer[:12]} 完成助力"[:26], "desc": activity[:30]},
        "horizontal_content_list": [
            {"keyname": "奖品", "value": prize[:26]},
            {"keyname": "助力人数", "value": str(helps)},
        ],
        "sub_title_text": "请联系客户发放奖品，发放后点击「已发放」。",
        "card_action": {"type": 1, "url": url},
        "button_list": [
            {"type": 1, "text": "查看活动客户", "style": 2, "url": url},
            {"type": 0, "text": "已发放", "style": 1, "key": given_key},
        ],
    }


def given_card(sent: dict[str, Any], name: str, at_text: str) -> dict[str, Any]:
    """The won card once the prize was marked as given: no buttons left."""
    return {
        "card_type": "text_notice",
        "source": sent.get("source", {"desc": "裂变活动"}),
        "main_title": sent.get("main_title", {"title": "客户完成助力"}),
        "horizontal_content_list": sent.get("horizontal_content_list", []),
        "sub_title_text": f"已由 {name} 发放 · {at_text}"[:120],
        "card_action": sent.get("card_action", {"type": 1, "url": ""}),
        "task_id": sent.get("task_id", ""),
    }


def started_card(
    *,
    activity: str,
    start_text: str,
    end_text: str,
    script: str,
    url: str,
    task_id: str,
    started: bool = True,
    recommended: list[str] | None = None,
) -> dict[str, Any]:
    """To the participating staff: the activity was created (published) or has started, with
    the script to share and, at the start, customers worth inviting (by the activity's tags)."""
    head = "活动开始" if started else "新活动"
    text = script or "邀请你的客户参加活动，好友助力即可领奖。"
    if recommended:
        text += f"\n推荐邀请：{'、'.join(recommended)}"
    return {
        "card_type": "text_notice",
        "source": {"desc": "裂变活动"},
        "main_title": {
            "title": f"{head}：{activity}"[:26],
            "desc": f"{start_text} 至 {end_text}"[:30],
        },
        "sub_title_text": text[:120],
        "card_action": {"type": 1, "url": url},
        "jump_list": [{"type": 1, "title": "查看活动客户", "url": url}],
        "task_id": task_id,
    }


def red_list_card(
    *,
    activity: str,
    day: str,
    window: str,
    rows: list[tuple[str, int]],
    url: str,
    task_id: str,
) -> dict[str, Any]:
    """The red list at a reminder time: staff by the new customers the activity brought them
    in the window since the previous reminder (shown as 统计时段)."""
    top = rows[:5]
    return {
        "card_type": "text_notice",
        "source": {"desc": "裂变活动"},
        "main_title": {"title": f"{day} 拉新红榜"[:26], "desc": activity[:30]},
        "horizontal_content_list": [
            {"keyname": "统计时段", "value": window[:26]},
            *(
                {"keyname": f"第{i}名"[:5], "value": f"{name} {count}人"[:26]}
                for i, (name, count) in enumerate(top, start=1)
            ),
        ],
        "sub_title_text": "本时段暂无新客户，快邀请客户参加活动吧。" if not top else "继续加油！",
        "card_action": {"type": 1, "url": url},
        "task_id": task_id,
    }
