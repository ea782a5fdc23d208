"""The earn rules: sign-in once per local day with consecutive and cumulative tiers, 新人积分
once ever, 完善信息 once per field, zeroing only when leaving the last scoped group, the
blacklist — each under replay and concurrent taps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.deps import Deps
from bot.domain_events import FollowAdded, GroupJoined, GroupQuit
from bot.http import ApiError
from handlers.points import ledger, rules
from storage.facts import CustomerGroup, GroupMember, GroupMembershipEvent
from storage.points import EntryKind, PointsAccount, PointsBlock, PointsEntry, PointsSignin
from tests.points.support import assert_consistent, save_program
from tests.support import Clock, run_due

TIERS = [{"days": 3, "points": 30}, {"days": 7, "points": 70}]


async def _balance(ext: str) -> int:
    acc = await PointsAccount.get_or_none(external_userid=ext)
    return int(acc.balance) if acc else 0


async def _keys(ext: str, rule: str) -> list[str]:
    rows = await PointsEntry.filter(external_userid=ext, rule=rule).order_by("id")
    return [r.key for r in rows]


async def test_two_fast_taps_sign_in_once(deps: Deps, corp: None) -> None:
    await save_program(deps, signin_points=5)
    results = await asyncio.gather(*[rules.sign_in(deps, "wm_ann") for _ in range(6)])
    assert sum(not r.already for r in results) == 1
    assert await PointsSignin.filter(external_userid="wm_ann").count() == 1
    assert await _balance("wm_ann") == 5
    await assert_consistent("wm_ann")


async def test_the_day_is_the_corps_day(deps: Deps, corp: None, clock: Clock) -> None:
    await save_program(deps, signin_points=5)
    clock.now = datetime(2025, 3, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 March in Shanghai
    await rules.sign_in(deps, "wm_ann")
    clock.now = datetime(2025, 3, 1, 16, 1, tzinfo=UTC)  # 00:01 on 2 March in Shanghai
    second = await rules.sign_in(deps, "wm_ann")
    assert not second.already and second.streak == 2
    days = [str(d) for d in await PointsSignin.all().order_by("day").values_list("day", flat=True)]
    assert days == ["2025-03-01", "2025-03-02"]


async def test_consecutive_tiers_across_a_month_end_restart_after_the_last(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, signin_points=1, streak_tiers=TIERS)
    clock.now = datetime(2025, 1, 27, 2, tzinfo=UTC)
    for _ in range(15):
        await rules.sign_in(deps, "wm_ann")
        await rules.sign_in(deps, "wm_ann")  # a replay the same day
        clock.advance(86400)
    keys = await _keys("wm_ann", "streak")
    # days 3 and 7 of the first cycle (started 27 Jan), then day 3 of the second (day 10)
    # and day 7 of the second (day 14)
    assert keys == [
        "streak:wm_ann:3:2025-01-27:0",
        "streak:wm_ann:7:2025-01-27:0",
        "streak:wm_ann:3:2025-01-27:1",
        "streak:wm_ann:7:2025-01-27:1",
    ]
    assert await _balance("wm_ann") == 15 + 2 * (30 + 70)
    await assert_consistent("wm_ann")


async def test_a_missed_day_resets_the_streak(deps: Deps, corp: None, clock: Clock) -> None:
    await save_program(deps, signin_points=1, streak_tiers=TIERS)
    for _ in range(2):
        await rules.sign_in(deps, "wm_ann")
        clock.advance(86400)
    clock.advance(86400)  # missed a day
    for _ in range(3):
        result = await rules.sign_in(deps, "wm_ann")
        clock.advance(86400)
    assert result.streak == 3
    assert await _keys("wm_ann", "streak") == ["streak:wm_ann:3:2025-03-04:0"]


async def test_cumulative_tiers_count_within_the_month_in_the_corps_zone(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(
        deps, cumulative_tiers=[{"days": 2, "points": 20}, {"days": 3, "points": 30}]
    )
    # 30 Jan, 31 Jan (tier 2 in January), then 1 Feb 00:30 Shanghai (= 31 Jan 16:30 UTC)
    for when in (
        datetime(2025, 1, 30, 2, tzinfo=UTC),
        datetime(2025, 1, 31, 2, tzinfo=UTC),
        datetime(2025, 1, 31, 16, 30, tzinfo=UTC),
        datetime(2025, 2, 3, 2, tzinfo=UTC),
        datetime(2025, 2, 5, 2, tzinfo=UTC),
    ):
        clock.now = when
        await rules.sign_in(deps, "wm_ann")
    assert await _keys("wm_ann", "cumulative") == [
        "cumul:wm_ann:2:m2025-01",
        "cumul:wm_ann:2:m2025-02",
        "cumul:wm_ann:3:m2025-02",
    ]


async def test_signing_in_needs_a_scoped_group_and_no_blacklist(deps: Deps, corp: None) -> None:
    await save_program(deps, signin_points=5, chat_ids=["g3"])
    with pytest.raises(ApiError, match="加入参与积分活动的社群后才能签到"):
        await rules.sign_in(deps, "wm_ann")
    await save_program(deps, signin_points=5)
    await PointsBlock.create(external_userid="wm_ann", reason="刷分", at=deps.now())
    with pytest.raises(ApiError, match="暂时不能参与"):
        await rules.sign_in(deps, "wm_ann")
    assert await _balance("wm_ann") == 0


async def test_newcomer_points_once_ever_by_join_or_add(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, newcomer_points=100, newcomer_on="both")
    clock.advance(60)
    joined = GroupJoined(chat_id="g1", member_id="wm_new", member_type=2, at=clock.now)
    await rules.on_group_joined(deps, [joined])
    await rules.on_group_joined(deps, [joined])  # redelivered
    again = GroupJoined(chat_id="g2", member_id="wm_new", member_type=2, at=clock.now)
    await rules.on_group_joined(deps, [again])
    added = FollowAdded(userid="alice", external_userid="wm_new", at=clock.now)
    await rules.on_follow_added(deps, [added])
    assert await _balance("wm_new") == 100
    # a join in a group outside the programme, or one found by a sync before it started
    await rules.on_group_joined(
        deps, [GroupJoined(chat_id="g3", member_id="wm_x", member_type=2, at=clock.now)]
    )
    old = clock.now - timedelta(days=30)
    await rules.on_group_joined(
        deps, [GroupJoined(chat_id="g1", member_id="wm_y", member_type=2, at=old)]
    )
    assert await _balance("wm_x") == 0 and await _balance("wm_y") == 0


async def test_newcomer_points_wait_for_the_minimum_stay(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, newcomer_points=100, newcomer_min_stay_hours=24)
    clock.advance(60)
    for ext in ("wm_stay", "wm_leave"):
        await GroupMember.create(chat_id="g1", member_id=ext, member_type=2, join_time=clock.now)
        await rules.on_group_joined(
            deps, [GroupJoined(chat_id="g1", member_id=ext, member_type=2, at=clock.now)]
        )
    assert await _balance("wm_stay") == 0
    await GroupMember.filter(member_id="wm_leave").delete()
    clock.advance(25 * 3600)
    await run_due(deps)
    assert await _balance("wm_stay") == 100
    assert await _balance("wm_leave") == 0


async def _fact(chat: str, ext: str, kind: str, at: datetime) -> None:
    await GroupMembershipEvent.create(
        key=f"{kind}:{chat}:{ext}:{at.timestamp()}", chat_id=chat, member_id=ext, kind=kind, at=at
    )


async def test_zeroing_only_on_leaving_the_last_scoped_group(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, signin_points=50)
    t0 = clock.now - timedelta(days=1)
    for chat in ("g1", "g2", "g3"):
        await _fact(chat, "wm_ann", "join", t0)
    await rules.sign_in(deps, "wm_ann")
    clock.advance(60)
    await _fact("g1", "wm_ann", "quit", clock.now)
    quit1 = GroupQuit(chat_id="g1", member_id="wm_ann", member_type=2, at=clock.now)
    await rules.on_group_quit(deps, quit1)
    assert await _balance("wm_ann") == 50  # still in g2
    clock.advance(60)
    await _fact("g2", "wm_ann", "quit", clock.now)
    quit2 = GroupQuit(chat_id="g2", member_id="wm_ann", member_type=2, at=clock.now)
    await rules.on_group_quit(deps, quit2)
    await rules.on_group_quit(deps, quit2)  # redelivered
    assert await _balance("wm_ann") == 0  # g3 is not scoped
    zero = await PointsEntry.get(kind=EntryKind.ZERO)
    assert zero.amount == -50 and "会员二群" in zero.reason
    await assert_consistent("wm_ann")


async def test_a_dismissed_group_zeroes_nobody(deps: Deps, corp: None, clock: Clock) -> None:
    await save_program(deps, signin_points=50, chat_ids=["g1"])
    await _fact("g1", "wm_cat", "join", clock.now - timedelta(days=1))
    await rules.sign_in(deps, "wm_cat")
    await CustomerGroup.filter(chat_id="g1").update(status="dismissed")
    await _fact("g1", "wm_cat", "quit", clock.now)
    await rules.on_group_quit(
        deps, GroupQuit(chat_id="g1", member_id="wm_cat", member_type=2, at=clock.now, scene=1)
    )
    assert await _balance("wm_cat") == 50


async def test_profile_fields_earn_once_each(deps: Deps, corp: None) -> None:
    await save_program(deps, profile_points=10, profile_fields=["name", "phone"])
    got = await rules.save_profile(deps, "wm_ann", {"name": "安安", "phone": ""})
    assert got == [("完善信息：姓名", 10)]
    got = await rules.save_profile(deps, "wm_ann", {"name": "安安2", "phone": "13800000000"})
    assert got == [("完善信息：手机号", 10)]
    await asyncio.gather(*[rules.save_profile(deps, "wm_ann", {"name": "x"}) for _ in range(3)])
    assert await _balance("wm_ann") == 20


async def test_expiry_runs_are_planned_and_idempotent(deps: Deps, corp: None, clock: Clock) -> None:
    await save_program(deps, signin_points=5, expiry_mode="days", expiry_days=2)
    await rules.sign_in(deps, "wm_ann")
    lot_expiry = datetime(2025, 3, 3, 16, 0, tzinfo=UTC)  # 00:00 on 4 March in Shanghai
    assert (await ledger.PointsLot.get()).expires_at == lot_expiry
    clock.now = lot_expiry + timedelta(minutes=1)
    assert await run_due(deps) == ["done"]
    assert await run_due(deps) == []
    assert await _balance("wm_ann") == 0
    await ledger.expire_due(deps, clock.now)  # run again by hand: nothing more
    assert await PointsEntry.filter(kind=EntryKind.EXPIRE).count() == 1


async def test_staff_are_reminded_once_before_their_customers_points_expire(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(
        deps, signin_points=5, expiry_mode="days", expiry_days=3, expiry_remind_days=1
    )
    for ext in ("wm_ann", "wm_ben"):
        await rules.sign_in(deps, ext)
    lot_expiry = datetime(2025, 3, 4, 16, 0, tzinfo=UTC)  # 00:00 on 5 March in Shanghai
    clock.now = lot_expiry - timedelta(days=1) + timedelta(minutes=1)
    assert await run_due(deps) == ["done"]
    assert await run_due(deps) == []
    sent = deps.wecom.messages  # type: ignore[attr-defined]
    assert len(sent) == 1 and sent[0][0] == ["alice"]
    card = sent[0][1]["template_card"]
    assert card["main_title"]["title"] == "2 位客户的积分将于 03-04 过期"
    assert card["horizontal_content_list"][0]["value"] == "10 分"
    assert await _balance("wm_ann") == 5  # not expired yet


async def test_newcomer_events_delivered_together_award_as_one_by_one(
    deps: Deps, corp: None, clock: Clock
) -> None:
    """Adds and joins of a delivery job at once (the same customer twice, a replay, a sync's
    add, an add from before the programme, a group outside it, a blacklisted customer) award
    what they award delivered one by one."""
    await save_program(deps, newcomer_points=100, newcomer_on="both")
    clock.advance(60)
    now, old = clock.now, clock.now - timedelta(days=30)

    def adds(p: str) -> list[FollowAdded]:
        return [
            FollowAdded(userid="alice", external_userid=f"{p}a", at=now),
            FollowAdded(userid="bob", external_userid=f"{p}a", at=now),
            FollowAdded(userid="alice", external_userid=f"{p}a", at=now),
            FollowAdded(userid="alice", external_userid=f"{p}b", at=now, source="sync"),
            FollowAdded(userid="alice", external_userid=f"{p}c", at=old),
            FollowAdded(userid="alice", external_userid=f"{p}d", at=now),
            FollowAdded(userid="bob", external_userid=f"{p}e", at=now),
        ]

    def joins(p: str) -> list[GroupJoined]:
        return [
            GroupJoined(chat_id="g1", member_id=f"{p}e", member_type=2, at=now),
            GroupJoined(chat_id="g2", member_id=f"{p}e", member_type=2, at=now),
            GroupJoined(chat_id="g3", member_id=f"{p}f", member_type=2, at=now),
            GroupJoined(chat_id="g1", member_id=f"{p}g", member_type=2, at=now),
            GroupJoined(chat_id="g1", member_id="alice", member_type=1, at=now),
        ]

    for p in ("t_", "o_"):
        await PointsBlock.create(external_userid=f"{p}d", reason="刷分", at=now)
    await rules.on_follow_added(deps, adds("t_"))
    await rules.on_group_joined(deps, joins("t_"))
    for add in adds("o_"):
        await rules.on_follow_added(deps, [add])
    for join in joins("o_"):
        await rules.on_group_joined(deps, [join])

    async def awarded(p: str) -> dict[str, list[str]]:
        rows = await PointsEntry.filter(external_userid__startswith=p).order_by("id")
        got: dict[str, list[str]] = {}
        for r in rows:
            got.setdefault(r.external_userid.removeprefix(p), []).append(
                f"{r.rule}:{r.amount}:{r.key.replace(p, '')}"
            )
        return got

    together = await awarded("t_")
    assert together == await awarded("o_")
    assert together == {
        "a": ["newcomer:100:newcomer:a"],
        "e": ["newcomer:100:newcomer:e"],
        "g": ["newcomer:100:newcomer:g"],
    }
