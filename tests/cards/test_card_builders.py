"""Every card builder's output passes WeCom's card rules (the sandbox's checker)."""

from __future__ import annotations

import pytest

from bot.sandbox.cardcheck import check_card
from cards import leaderboard as lb
from cards import radar

ACTIVITY = lb.CardActivity(1, "十一月拉新", "new_customers", 10, "说明", "2026-11-01", "2026-11-30")
TOP = [lb.RankLine(i, f"员工{i}", 20 - i) for i in range(1, 11)]
STANDINGS = [
    lb.Standing(1, 20, top=TOP),
    lb.Standing(14, 3, gap_places=4, gap_count=2, movement=-2, top=TOP),
    lb.Standing(0, 0),
]


@pytest.mark.parametrize("level", [1, 2, 3])
def test_radar_alert_card(level: int) -> None:
    alert = radar.Alert("王" * 40, "《" * 60, level, "", "14:32", "https://x/p")
    card = radar.alert_card(alert, "radar-alert-1", "radar.done:1:" + "x" * 12)
    check_card(card)
    check_card(radar.followed_card(card, "张伟", "14:32"))


@pytest.mark.parametrize("me", STANDINGS)
def test_leaderboard_cards(me: lb.Standing) -> None:
    url = "https://x/sidebar"
    check_card(lb.start_card(ACTIVITY, url))
    check_card(lb.daily_card(ACTIVITY, me, url))
    check_card(lb.end_card(ACTIVITY, me, url))
    for kind in ("about_to_rank", "on_list", "dropped"):
        check_card(lb.crossing_card(kind, ACTIVITY, me, url))
    check_card(lb.report_card(ACTIVITY, TOP, 12, 140, "https://x/c.png", "https://x/d"))
    near = lb.near_card(lb.crossing_card("about_to_rank", ACTIVITY, me, url), "lb-near-1", "k")
    check_card(near)
    plain = lb.crossing_card("about_to_rank", ACTIVITY, me, url)
    check_card(lb.my_customers_card(plain, [("王芳", "11-30 14:02")] * 5, 9))
    check_card(lb.ranks_card([(ACTIVITY, me)] * 8, url))
