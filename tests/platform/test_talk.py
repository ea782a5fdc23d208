"""Text commands, the app menu and welcome providers as features register them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dispatcher import Dispatcher
from bot.router import Router
from bot.talk import TalkError


class FakeDeps:
    def url(self, path: str) -> str:
        return "https://scrm.example.com" + path


async def _reply(*args: Any) -> None:
    return None


def test_commands_match_names_and_aliases_case_insensitively() -> None:
    router = Router("a")
    router.text("排名", "Rank", description="我的名次")(_reply)
    dispatcher = Dispatcher([router])
    for text in ("排名", "rank 本周", "  RANK  "):
        command, _ = dispatcher.command_for(text)
        assert command is not None and command.name == "排名"
    assert dispatcher.command_for("rank 本周")[1] == "本周"
    assert dispatcher.command_for("排名榜")[0] is None


def test_duplicate_words_are_refused_across_features() -> None:
    a, b = Router("a"), Router("b")
    a.text("排名", "rank")(_reply)
    b.text("RANK")(_reply)
    with pytest.raises(TalkError, match="duplicate text command"):
        Dispatcher([a, b])


def test_menu_groups_items_and_keeps_wecoms_limits() -> None:
    router = Router("a")
    router.menu_click("我的排名", key="a.rank", group="我的数据")(_reply)
    router.menu_link("排行榜", "/sidebar?open=leaderboard", group="工作台")
    router.menu_click("帮助", key="a.help", order=999)(_reply)
    menu = Dispatcher([router]).menu_json(FakeDeps())  # type: ignore[arg-type]
    assert menu == {
        "button": [
            {"name": "我的数据", "sub_button": [{"type": "click", "name": "我的排名", "key": "a.rank"}]},
            {"name": "工作台", "sub_button": [
                {"type": "view", "name": "排行榜",
                 "url": "https://scrm.example.com/sidebar?open=leaderboard"},
            ]},
            {"type": "click", "name": "帮助", "key": "a.help"},
        ]
    }  # fmt: skip
    router.menu_click("更多", key="a.more")(_reply)
    with pytest.raises(TalkError, match="at most 3"):
        Dispatcher([router]).menu_json(FakeDeps())  # type: ignore[arg-type]


def test_welcome_providers_are_ordered_by_priority() -> None:
    a, b = Router("a"), Router("b")
    a.welcome(priority=10)(_reply)
    b.welcome(priority=30)(_reply)
    assert [p.priority for p in Dispatcher([a, b]).welcome_providers] == [30, 10]
