"""Points' people-facing output: the redemption card for the owning staff member (pure: data
in, dict out) and the customer page's HTML shell (`cards/templates/points/`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "points"
pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render_page(name: str, **values: Any) -> str:
    return pages.get_template(name).render(**values)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def redemption_card(
    *,
    customer_name: str,
    reward: str,
    cost: int,
    release_text: str,
    profile_url: str,
    task_id: str,
    done_key: str,
) -> dict[str, Any]:
    """「客户 X 兑换了 Y」 with 已发放 (a callback button) and the profile link."""
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "社群积分"},
        "main_title": {
            "title": _clip(f"{_clip(customer_name, 8)} 兑换了「{reward}」", 26),
            "desc": "请尽快发放，发放后点击「已发放」",
        },
        "horizontal_content_list": [
            {"keyname": "消耗积分", "value": f"{cost} 分"},
            {"keyname": "超时退回", "value": release_text},
        ],
        "card_action": {"type": 1, "url": profile_url},
        "button_list": [
            {"type": 1, "text": "查看客户画像", "style": 2, "url": profile_url},
            {"type": 0, "text": "已发放", "style": 1, "key": done_key},
        ],
    }


def _handled_card(sent: dict[str, Any], desc: str, title: str) -> dict[str, Any]:
    """A button card once handled: its title and lines kept, `desc` saying by whom and when,
    no buttons left."""
    url = sent.get("card_action", {}).get("url", "")
    return {
        "card_type": "text_notice",
        "source": sent.get("source", {"desc": "社群积分"}),
        "main_title": {"title": sent.get("main_title", {}).get("title", title), "desc": desc},
        "horizontal_content_list": sent.get("horizontal_content_list", []),
        "jump_list": [{"type": 1, "title": "查看客户画像", "url": url}],
        "card_action": {"type": 1, "url": url},
    }


def fulfilled_card(sent: dict[str, Any], name: str, at_text: str) -> dict[str, Any]:
    """The card once fulfilled: 「已由 张伟 发放 · 14:32」."""
    return _handled_card(sent, f"已由 {_clip(name, 16)} 发放 · {at_text}", "客户兑换了奖品")


def claim_card(
    *, customer_name: str, points: int, profile_url: str, task_id: str, confirm_key: str
) -> dict[str, Any]:
    """「客户 X 说已关注视频号」 with 确认 (a callback button)."""
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "社群积分"},
        "main_title": {
            "title": _clip(f"{_clip(customer_name, 8)} 申请关注视频号积分", 26),
            "desc": "请核实客户已关注公司视频号后点击「确认」",
        },
        "horizontal_content_list": [{"keyname": "奖励积分", "value": f"{points} 分"}],
        "card_action": {"type": 1, "url": profile_url},
        "button_list": [
            {"type": 1, "text": "查看客户画像", "style": 2, "url": profile_url},
            {"type": 0, "text": "确认", "style": 1, "key": confirm_key},
        ],
    }


def confirmed_card(sent: dict[str, Any], name: str, at_text: str) -> dict[str, Any]:
    """The claim card once confirmed: 「已由 张伟 确认 · 14:32」."""
    return _handled_card(sent, f"已由 {_clip(name, 16)} 确认 · {at_text}", "客户申请关注视频号积分")


def expiry_card(*, customers: int, points: int, day: str, url: str, task_id: str) -> dict[str, Any]:
    """「N 位客户的积分将于 D 过期」 for the staff member who owns them."""
    return {
        "card_type": "text_notice",
        "task_id": task_id,
        "source": {"desc": "社群积分"},
        "main_title": {
            "title": f"{customers} 位客户的积分将于 {day} 过期",
            "desc": "提醒客户及时兑换，提升积分价值",
        },
        "horizontal_content_list": [{"keyname": "即将过期", "value": f"{points} 分"}],
        "card_action": {"type": 1, "url": url},
    }
