"""客户阶段's template cards (pure: data in, dict out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@dataclass(frozen=True)
class Reminder:
    customer_name: str
    journey_name: str
    stage_name: str
    days: int  # the rule's N
    stayed_days: int  # how long the relation has been in the stage
    staff_name: str
    profile_url: str


def reminder_card(r: Reminder, task_id: str) -> dict[str, Any]:
    """「客户 X 已在「意向」阶段停留 N 天」 with a button to the customer profile."""
    return {
        "card_type": "button_interaction",
        "task_id": task_id,
        "source": {"desc": "客户阶段"},
        "main_title": {
            "title": _clip(f"客户 {_clip(r.customer_name, 8)} 待跟进", 26),
            "desc": _clip(f"已在「{r.stage_name}」停留超过 {r.days} 天", 30),
        },
        "horizontal_content_list": [
            {"keyname": "客户旅程", "value": _clip(r.journey_name, 26)},
            {"keyname": "当前阶段", "value": _clip(r.stage_name, 26)},
            {"keyname": "停留天数", "value": f"{r.stayed_days}天"},
            {"keyname": "跟进员工", "value": _clip(r.staff_name, 26)},
        ],
        "card_action": {"type": 1, "url": r.profile_url},
        "button_list": [{"type": 1, "text": "查看客户画像", "style": 1, "url": r.profile_url}],
    }
