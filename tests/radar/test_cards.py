"""The alert card's text stays within WeCom's template card limits, however long the names."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.deps import Deps
from cards.radar import LIMITS, Alert, alert_card, alert_title, too_long
from storage.facts import Customer
from tests.radar.support import make_radar, make_share, open_link
from tests.radar.test_followup import _run_jobs


def _alert(name: str, title: str, forwarder: str = "") -> Alert:
    return Alert(name, title, 3 if forwarder else 1, forwarder, "09:30", "https://x/p")


def test_long_names_fit_the_title_limit() -> None:
    card = alert_card(_alert("客" * 40, "雷" * 64, forwarder="转" * 40), "t1", "radar.done:1:k")
    assert too_long(card) == []
    title = card["main_title"]["title"]
    assert len(title) <= LIMITS["main_title.title"] == 26
    assert title.startswith("客户 客") and "正在查看《雷" in title and title.endswith("…》")
    assert len(card["main_title"]["desc"]) <= 36


def test_short_names_are_not_cut() -> None:
    assert alert_title("安", "产品手册") == "客户 安 正在查看《产品手册》"
    assert alert_title("客" * 8, "雷" * 8) == f"客户 {'客' * 8} 正在查看《{'雷' * 8}》"


def test_too_long_names_the_field() -> None:
    card = {"main_title": {"title": "长" * 27}, "jump_list": [{"title": "按" * 14}]}
    assert [v.split(":")[0] for v in too_long(card)] == ["main_title.title", "jump_list.title"]


async def test_alert_sent_for_a_long_title_fits(client: TestClient, deps: Deps, corp: None) -> None:
    await Customer.filter(external_userid="wm_ann").update(name="安" * 30)
    radar = await make_radar(deps, title="一份标题特别特别长的产品资料" * 4)
    share = await make_share(deps, radar)
    await open_link(client, f"/r/{share.token}")
    await _run_jobs(deps)
    (_, card), *_ = deps.wecom.cards  # type: ignore[attr-defined]
    assert too_long(card) == [], card
