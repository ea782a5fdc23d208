"""The ledger: awards once per key under replay and concurrency, oldest points first for
spending and expiry, reversal rules, and balances equal to a recomputation after random
operations."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

import pytest

from bot.deps import Deps
from handlers.points import ledger, redeem
from storage.points import (
    EntryKind,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsRedemption,
    PointsReward,
    RedemptionState,
)
from tests.points.support import assert_consistent, save_program
from tests.support import Clock, run_due


async def _earn(deps: Deps, ext: str, amount: int, key: str, expires: datetime | None = None):
    return await ledger.credit(
        deps, ext, amount, key=key, kind=EntryKind.EARN, rule="test", expires_at=expires
    )


async def test_a_credit_counts_once_per_key_under_replay_and_concurrency(deps: Deps) -> None:
    first = await _earn(deps, "wm_ann", 10, "k1")
    again = await _earn(deps, "wm_ann", 10, "k1")
    assert first is not None and again is None
    results = await asyncio.gather(*[_earn(deps, "wm_ann", 5, "k2") for _ in range(8)])
    assert sum(r is not None for r in results) == 1
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert acc.balance == 15
    assert await PointsEntry.filter(external_userid="wm_ann").count() == 2
    await assert_consistent("wm_ann")


async def test_spending_and_expiry_take_the_oldest_points_first(deps: Deps, clock: Clock) -> None:
    t0 = clock.now
    await _earn(deps, "wm_ann", 100, "a", expires=t0 + timedelta(days=10))
    clock.advance(3600)
    await _earn(deps, "wm_ann", 50, "b", expires=t0 + timedelta(days=20))
    spent = await ledger.debit(deps, "wm_ann", 80, key="s1", kind=EntryKind.MANUAL)
    assert spent is not None
    lots = await PointsLot.filter(external_userid="wm_ann").order_by("id")
    assert [lot.remaining for lot in lots] == [20, 50]
    # day 10: only the older lot's 20 left expire
    clock.now = t0 + timedelta(days=10, seconds=1)
    assert await ledger.expire_due(deps, clock.now) == 1
    assert await ledger.expire_due(deps, clock.now) == 0  # idempotent
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert acc.balance == 50
    expired = await PointsEntry.get(kind=EntryKind.EXPIRE)
    assert expired.amount == -20
    await assert_consistent("wm_ann")


async def test_a_debit_beyond_the_balance_is_refused(deps: Deps) -> None:
    await _earn(deps, "wm_ann", 10, "a")
    with pytest.raises(ledger.LedgerRefused, match="积分余额不足"):
        await ledger.debit(deps, "wm_ann", 11, key="d", kind=EntryKind.MANUAL)
    await assert_consistent("wm_ann")


async def test_reversal_of_spent_points_is_refused_or_goes_negative(deps: Deps) -> None:
    got = await _earn(deps, "wm_ann", 100, "a")
    assert got is not None
    await ledger.debit(deps, "wm_ann", 70, key="d", kind=EntryKind.MANUAL)
    with pytest.raises(ledger.LedgerRefused, match="已有 70 分被使用或已过期"):
        await ledger.reverse(deps, got.entry.id, by="admin", allow_negative=False)
    done = await ledger.reverse(deps, got.entry.id, by="admin", allow_negative=True)
    assert done.balance == -70
    with pytest.raises(ledger.LedgerRefused, match="已经撤销过"):
        await ledger.reverse(deps, got.entry.id, by="admin", allow_negative=True)
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert (acc.balance, acc.debt) == (-70, 70)
    # the next earn pays the debt first
    await _earn(deps, "wm_ann", 100, "b")
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert (acc.balance, acc.debt) == (30, 0)
    await assert_consistent("wm_ann")


async def test_reversing_a_deduction_gives_the_points_back_to_their_lots(deps: Deps) -> None:
    await _earn(deps, "wm_ann", 40, "a")
    d = await ledger.debit(deps, "wm_ann", 30, key="d", kind=EntryKind.MANUAL)
    assert d is not None
    back = await ledger.reverse(deps, d.entry.id, by="admin", allow_negative=False)
    assert back.balance == 40
    assert [lot.remaining for lot in await PointsLot.all()] == [40]
    await assert_consistent("wm_ann")


async def test_the_last_item_in_stock_goes_to_one_of_two_racing_customers(
    deps: Deps, corp: None
) -> None:
    await save_program(deps)
    reward = await PointsReward.create(name="保温杯", cost=50, stock=1, created_at=deps.now())
    for ext in ("wm_ann", "wm_ben"):
        await _earn(deps, ext, 100, f"seed:{ext}")

    async def attempt(ext: str) -> str:
        try:
            await redeem.redeem(deps, ext, reward.id, nonce=f"n-{ext}")
        except ledger.LedgerRefused as exc:
            return exc.message
        return "ok"

    outcomes = await asyncio.gather(attempt("wm_ann"), attempt("wm_ben"))
    assert sorted(outcomes) == ["ok", "「保温杯」已兑完"]
    assert (await PointsReward.get(id=reward.id)).stock == 0
    assert await PointsRedemption.all().count() == 1
    for ext in ("wm_ann", "wm_ben"):
        await assert_consistent(ext)


async def test_a_double_tap_on_redeem_holds_once_and_release_gives_back(
    deps: Deps, corp: None
) -> None:
    await save_program(deps)
    reward = await PointsReward.create(name="抱枕", cost=30, stock=5, created_at=deps.now())
    await _earn(deps, "wm_ann", 100, "seed")
    both = await asyncio.gather(
        *[redeem.redeem(deps, "wm_ann", reward.id, "tap") for _ in range(2)]
    )
    assert both[0].id == both[1].id
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert (acc.balance, acc.held) == (70, 30)
    assert (await PointsReward.get(id=reward.id)).stock == 4
    assert deps.wecom.cards and deps.wecom.cards[0][0] == ["alice"]  # type: ignore[attr-defined]
    await redeem.release(deps, both[0].id, "超时")
    assert await redeem.release(deps, both[0].id, "超时") is None  # once
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert (acc.balance, acc.held) == (100, 0)
    assert (await PointsReward.get(id=reward.id)).stock == 5
    assert not await redeem.fulfil(deps, both[0].id, "alice")  # released: nothing to fulfil
    await assert_consistent("wm_ann")


async def test_fulfilling_turns_the_hold_into_a_spend(deps: Deps, corp: None) -> None:
    await save_program(deps)
    reward = await PointsReward.create(name="抱枕", cost=30, stock=5, created_at=deps.now())
    await _earn(deps, "wm_ann", 100, "seed")
    r = await redeem.redeem(deps, "wm_ann", reward.id, "x")
    assert await redeem.fulfil(deps, r.id, "alice")
    assert not await redeem.fulfil(deps, r.id, "alice")
    assert await redeem.release(deps, r.id, "超时") is None  # a fulfilled one stays spent
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert (acc.balance, acc.held) == (70, 0)
    assert (await PointsRedemption.get(id=r.id)).state == RedemptionState.FULFILLED
    await assert_consistent("wm_ann")


async def test_released_points_whose_lot_expired_meanwhile_expire_at_once(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps)
    reward = await PointsReward.create(name="抱枕", cost=30, stock=5, created_at=deps.now())
    await _earn(deps, "wm_ann", 100, "seed", expires=clock.now + timedelta(days=1))
    r = await redeem.redeem(deps, "wm_ann", reward.id, "x")
    clock.advance(2 * 86400)
    await ledger.expire_due(deps, clock.now)  # the 70 not held expire
    await redeem.release(deps, r.id, "超时")  # the 30 come back to an expired lot
    acc = await PointsAccount.get(external_userid="wm_ann")
    assert acc.balance == 0
    assert await PointsEntry.filter(kind=EntryKind.EXPIRE).count() == 2
    await assert_consistent("wm_ann")


async def test_balances_equal_a_recomputation_after_random_operations(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, reversal_negative=True)
    rewards = [
        await PointsReward.create(name=f"奖品{i}", cost=c, stock=3, created_at=deps.now())
        for i, c in enumerate((15, 40))
    ]
    rng = random.Random(7)
    customers = ["wm_ann", "wm_ben", "wm_cat"]
    credits: list[int] = []
    debits: list[int] = []
    for step in range(160):
        ext = rng.choice(customers)
        op = rng.random()
        try:
            if op < 0.35:
                exp = clock.now + timedelta(hours=rng.randint(1, 72))
                got = await _earn(deps, ext, rng.randint(1, 60), f"e{step % 120}", exp)
                if got is not None:
                    credits.append(got.entry.id)
            elif op < 0.5:
                got = await ledger.debit(
                    deps, ext, rng.randint(1, 40), key=f"d{step}", kind=EntryKind.MANUAL
                )
                if got is not None:
                    debits.append(got.entry.id)
            elif op < 0.6:
                await redeem.redeem(deps, ext, rng.choice(rewards).id, f"n{step}")
            elif op < 0.7:
                pending = await PointsRedemption.filter(state=RedemptionState.PENDING)
                if pending:
                    r = rng.choice(pending)
                    if rng.random() < 0.5:
                        await redeem.fulfil(deps, r.id, "alice")
                    else:
                        await redeem.release(deps, r.id, "测试")
            elif op < 0.8 and (credits or debits):
                pool = credits + debits
                await ledger.reverse(
                    deps, rng.choice(pool), by="admin", allow_negative=rng.random() < 0.5
                )
            elif op < 0.9:
                clock.advance(rng.randint(600, 20000))
                await ledger.expire_due(deps, clock.now)
            else:
                await ledger.zero(deps, ext, key=f"z{step}", reason="测试")
        except ledger.LedgerRefused:
            pass
    for ext in customers:
        await assert_consistent(ext)
    assert await PointsEntry.all().count() > 60


async def test_a_hold_is_released_by_its_scheduled_run_after_the_timeout(
    deps: Deps, corp: None, clock: Clock
) -> None:
    await save_program(deps, hold_hours=2)
    reward = await PointsReward.create(name="抱枕", cost=30, stock=1, created_at=deps.now())
    await _earn(deps, "wm_ann", 100, "seed")
    r = await redeem.redeem(deps, "wm_ann", reward.id, "x")
    clock.advance(3600)
    assert await run_due(deps) == []  # not yet
    clock.advance(3601)
    assert await run_due(deps) == ["done"]
    assert (await PointsRedemption.get(id=r.id)).state == RedemptionState.RELEASED
    assert (await PointsReward.get(id=reward.id)).stock == 1
    assert (await PointsAccount.get(external_userid="wm_ann")).balance == 100
    assert not await redeem.fulfil(deps, r.id, "alice")  # too late for 已发放
    sent = deps.wecom.messages  # type: ignore[attr-defined]
    assert [(to, m["text"]["content"]) for to, m in sent] == [
        (["alice"], "安 兑换的「抱枕」已取消：兑换超时未发放，积分已退回，无需再发放。")
    ]
    await assert_consistent("wm_ann")
