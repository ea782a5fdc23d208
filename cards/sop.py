"""朋友圈SOP's cards: the reminder with 去发布 / 已发布 / 跳过, what it turns into once the staff
member acted, and the coalesced click alert. Pure functions: data in, card dict out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LIMITS = {"title": 26, "desc": 30, "sub": 120, "value": 26}


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@dataclass(frozen=True)
class Reminder:
    plan_name: str
    at_text: str  # "今天 12:00" / "12月1日 12:00"
    text: str
    attachment: str  # "3 张图片" / "链接：…" / "视频" / ""
    task_mode: bool  # an enterprise task: confirmed in 客户朋友圈 → 企业通知
    late: bool
    again: bool  # the second reminder
    post_url: str  # the reminder page (去发布)


def reminder_card(r: Reminder, task_id: str, posted_key: str, skip_key: str) -> dict[str, Any]:
    title = f"{r.at_text} 的朋友圈待发布"
    if r.again:
        title = "提醒：" + title
    rows = [{"keyname": "计划", "value": clip(r.plan_name, LIMITS["value"])}]
    if r.attachment:
        rows.append({"keyname": "附件", "value": clip(r.attachment, LIMITS["value"])})
    if r.late:
        rows.append({"keyname": "状态", "value": "延迟发送"})
    where = (
        "请在 客户朋友圈 → 企业通知 中确认发表"
        if r.task_mode
        else "点「去发布」一键发表到客户朋友圈"
    )
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "朋友圈SOP"},
        "main_title": {"title": clip(title, LIMITS["title"]), "desc": where},
        "sub_title_text": clip(r.text, LIMITS["sub"]) or "（无文案）",
        "horizontal_content_list": rows,
        "card_action": {"type": 1, "url": r.post_url},
        "button_list": [
            {"type": 1, "text": "去发布", "style": 1, "url": r.post_url},
            {"type": 0, "text": "已发布", "style": 2, "key": posted_key},
            {"type": 0, "text": "跳过", "style": 3, "key": skip_key},
        ],
    }


def acted_card(sent: dict[str, Any], outcome: str, at_text: str) -> dict[str, Any]:
    """The reminder after 已发布 or 跳过: the same content, no buttons left."""
    url = sent.get("card_action", {}).get("url", "")
    return {
        "card_type": "text_notice",
        "source": sent.get("source", {"desc": "朋友圈SOP"}),
        "main_title": {
            "title": sent.get("main_title", {}).get("title", "朋友圈任务"),
            "desc": f"{outcome} · {at_text}",
        },
        "sub_title_text": sent.get("sub_title_text", ""),
        "horizontal_content_list": sent.get("horizontal_content_list", []),
        "jump_list": [{"type": 1, "title": "查看任务", "url": url}],
        "card_action": {"type": 1, "url": url},
    }


@dataclass(frozen=True)
class ClickAlert:
    who: str  # the customer's name, or "一位访客"
    link_title: str
    plan_name: str
    at_text: str
    url: str  # the customer's profile, or the task's data


def click_alert_card(a: ClickAlert) -> dict[str, Any]:
    return {
        "card_type": "text_notice",
        "source": {"desc": "朋友圈SOP"},
        "main_title": {
            "title": clip(f"{a.who} 点开了你朋友圈的链接", LIMITS["title"]),
            "desc": clip(f"《{a.link_title}》", LIMITS["desc"]),
        },
        "horizontal_content_list": [
            {"keyname": "时间", "value": a.at_text},
            {"keyname": "计划", "value": clip(a.plan_name, LIMITS["value"])},
        ],
        "jump_list": [{"type": 1, "title": "查看详情", "url": a.url}],
        "card_action": {"type": 1, "url": a.url},
    }


def invalid_senders_card(plan_name: str, names: list[str], url: str) -> dict[str, Any]:
    """To the plan's owner: WeCom refused these members as senders of a run's task."""
    shown = "、".join(names[:10]) + (f" 等 {len(names)} 人" if len(names) > 10 else "")
    return {
        "card_type": "text_notice",
        "source": {"desc": "朋友圈SOP"},
        "main_title": {
            "title": clip(f"{len(names)} 人无法发表企业朋友圈", LIMITS["title"]),
            "desc": clip(f"计划：{plan_name}", LIMITS["desc"]),
        },
        "sub_title_text": clip(
            f"{shown} 不在本应用的可见范围或客户朋友圈的使用范围内，企业微信未给他们下发任务。"
            "请管理员在 客户与上下游 → 客户联系 → 权限配置 中调整。",
            LIMITS["sub"],
        ),
        "jump_list": [{"type": 1, "title": "查看发送数据", "url": url}],
        "card_action": {"type": 1, "url": url},
    }
