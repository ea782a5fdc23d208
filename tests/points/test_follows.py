"""关注视频号 points: once per customer under repeated taps, a daily cap across customers, and
the staff member's 确认 on a card when the programme asks for it."""

from __future__ import annotations

import asyncio

import pytest

from bot.deps import Deps
from bot.events import TemplateCardEvent
from bot.http import ApiError
from handlers.points import follows
from storage.points import PointsAccount, PointsClaim, PointsEntry
from tests.points.support import save_program


def _click(userid: str, key: str) -> TemplateCardEvent:
    return TemplateCardEvent(
        to_user="corp",
        from_user=userid,
        create_time=0,
        msg_type="event",
        event="template_card_event",
        agent_id="1",
        raw={},
        event_key=key,
    )


async def _balance(ext: str) -> int:
    acc = await PointsAccount.get_or_none(external_userid=ext)
    return int(acc.balance) if acc else 0


async def test_a_self_declared_follow_awards_once_within_the_daily_cap(
    deps: Deps, corp: None
) -> None:
    await save_program(deps, channels_points=30, channels_daily_cap=1)
    results = await asyncio.gather(*[follows.claim(deps, "wm_ann") for _ in range(4)])
    assert {r["state"] for r in results} == {"awarded"}
    assert await _balance("wm_ann") == 30
    with pytest.raises(ApiError, match="今日关注视频号积分名额已发完"):
        await follows.claim(deps, "wm_ben")
    assert await _balance("wm_ben") == 0


async def test_the_daily_cap_holds_against_claims_at_the_same_moment(
    deps: Deps, corp: None
) -> None:
    await save_program(deps, channels_points=30, channels_daily_cap=3)
    customers = [f"wm_c{n}" for n in range(8)]
    results = await asyncio.gather(
        *[follows.claim(deps, ext) for ext in customers], return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(refused) == 5 and all("名额已发完" in str(r) for r in refused)
    assert await PointsEntry.filter(rule="channels").count() == 3
    assert sum([await _balance(ext) for ext in customers]) == 90


async def test_a_follow_waits_for_the_staff_members_confirmation(deps: Deps, corp: None) -> None:
    await save_program(deps, channels_points=30, channels_confirm=True)
    assert (await follows.claim(deps, "wm_ann"))["state"] == "pending"
    assert (await follows.claim(deps, "wm_ann"))["state"] == "pending"  # no second card
    cards = deps.wecom.cards  # type: ignore[attr-defined]
    assert len(cards) == 1 and cards[0][0] == ["alice"]
    assert await _balance("wm_ann") == 0
    claim = await PointsClaim.get()
    key = follows.ConfirmFollow(claim_id=claim.id).pack(deps.signer)
    data = follows.ConfirmFollow.unpack(key, deps.signer)
    assert data is not None
    reply = await follows.on_confirm(deps, _click("alice", key), data)
    assert reply is not None and "已由 Alice 确认" in reply.card["main_title"]["desc"]  # type: ignore[index]
    again = await follows.on_confirm(deps, _click("alice", key), data)  # a retried click
    assert again is not None
    assert await _balance("wm_ann") == 30
    assert await PointsEntry.filter(rule="channels").count() == 1
    assert await follows.state_of("wm_ann") == "awarded"
