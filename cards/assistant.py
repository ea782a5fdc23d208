"""The app assistant's own answers: the help text, the unknown-text card, the menu card."""

from __future__ import annotations

from typing import Any

from bot.talk import TextCommand

HELP_HINT = "发送下面的指令，我会马上回复你："


def help_text(commands: list[TextCommand]) -> str:
    lines = [HELP_HINT]
    for cmd in commands:
        aliases = f"（也可发：{'、'.join(cmd.aliases)}）" if cmd.aliases else ""
        lines.append(f"· {cmd.name}：{cmd.description}{aliases}")
    return "\n".join(lines)


def _rows(commands: list[TextCommand]) -> list[dict[str, Any]]:
    # WeCom shows at most 6 key/value rows.
    return [{"keyname": c.name, "value": c.description[:30]} for c in commands[:6]]


def unknown_card(text: str, commands: list[TextCommand], home_url: str) -> dict[str, Any]:
    shown = text if len(text) <= 12 else text[:11] + "…"
    return {
        "card_type": "text_notice",
        "source": {"desc": "应用助手"},
        "main_title": {"title": f"没看懂「{shown}」", "desc": "试试发送下面的指令"},
        "horizontal_content_list": _rows(commands),
        "card_action": {"type": 1, "url": home_url},
    }


def menu_card(
    name: str, commands: list[TextCommand], links: list[tuple[str, str]]
) -> dict[str, Any]:
    """Sent when a staff member opens the app (once a day): what the app can do for them."""
    card: dict[str, Any] = {
        "card_type": "text_notice",
        "source": {"desc": "应用助手"},
        "main_title": {
            "title": f"{name}，你好" if name else "你好",
            "desc": "发送指令或点击下方菜单",
        },
        "horizontal_content_list": _rows(commands),
        "card_action": {"type": 1, "url": links[0][1]},
    }
    card["jump_list"] = [{"type": 1, "title": t, "url": u} for t, u in links[:3]]
    return card
