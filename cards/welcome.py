"""The card a staff member gets when the welcome message could not be sent automatically:
the content to forward by hand, and why (REFERENCE.md §5, peers.md W6)."""

from __future__ import annotations

from typing import Any

REASONS = {
    "no_code": "管理后台已配置欢迎语或已开始聊天，企业微信未提供欢迎语代码",
    "late": "处理时已超过企业微信规定的 20 秒",
    "41051": "欢迎语代码已被其他应用使用或已过期",
    "error": "企业微信拒绝了发送",
}


def fallback_card(text: str, attachments: int, reason: str, profile_url: str) -> dict[str, Any]:
    rows = [{"keyname": "原因", "value": REASONS.get(reason, reason)[:26]}]
    if attachments:
        rows.append({"keyname": "附件", "value": f"{attachments}个，请在聊天中补发"})
    return {
        "card_type": "text_notice",
        "source": {"desc": "欢迎语"},
        "main_title": {"title": "欢迎语未自动发送", "desc": "请复制下面的内容发给新客户"},
        "sub_title_text": text[:160] or "（仅附件）",
        "horizontal_content_list": rows,
        "card_action": {"type": 1, "url": profile_url},
    }
