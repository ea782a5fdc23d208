"""The points ledger: every change is an entry with a unique key, written in one transaction
with its lot allocations and the account projection, under a per-customer row lock.

- A credit (earn, import, manual award, release, reversal of a debit) inserts an entry; a
  positive new credit is a lot. A second credit with the same key is refused by the unique
  index and returns None: retries, replays and two fast taps credit once.
- A debit (spend, hold, expiry, zeroing, deduct, reversal of a credit) allocates against the
  customer's lots, oldest first.
- `balance == sum(lot.remaining) - debt` always holds; `recompute` rebuilds every number from
  the entries and allocations alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.domain_events import PointsChanged, publish
from bot.http import ApiError
from storage.points import (
    EntryKind,
    PointsAccount,
    PointsAllocation,
    PointsEntry,
    PointsLot,
    PointsQuotaSlot,
    PointsRedemption,
    RedemptionState,
)

log = logging.getLogger(__name__)
REVERSIBLE = {EntryKind.EARN, EntryKind.IMPORT, EntryKind.MANUAL}


class LedgerRefused(ApiError):
    """A change the ledger refuses (not enough points, nothing to reverse ...)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(status, message)


@dataclass
class Posted:
    entry: PointsEntry
    balance: int


@dataclass(frozen=True)
class Quota:
    """At most `cap` credits under `name` (e.g. a rule and a day), across customers."""

    name: str
    cap: int
    full: str  # the refusal, in Chinese


async def _take_slot(conn: Any, quota: Quota, ext: str) -> None:
    """A free place of the quota for this credit, or LedgerRefused when none is left. A place
    another transaction holds is skipped (PostgreSQL waits for it to commit or roll back);
    a place rolled back with its credit is free again."""
    prefix = f"{quota.name}:"
    slots = PointsQuotaSlot.filter(key__startswith=prefix).using_db(conn)
    taken = await slots.count()
    for n in range(taken + 1, quota.cap + 1):
        key = f"{prefix}{n}"
        await PointsQuotaSlot.bulk_create(
            [PointsQuotaSlot(key=key, external_userid=ext)], ignore_conflicts=True, using_db=conn
        )
        holder = await PointsQuotaSlot.filter(key=key).using_db(conn).first()
        if holder is not None and holder.external_userid == ext:
            return
    if await slots.filter(external_userid=ext).exists():
        return  # the customer's own place: the credit's key decides whether this is a repeat
    raise LedgerRefused(quota.full)


async def lock(conn: Any, ext: str) -> PointsAccount:
    """The customer's account row, created when missing and locked for this transaction
    (PostgreSQL row lock; SQLite runs one write transaction at a time)."""
    await PointsAccount.bulk_create(
        [PointsAccount(external_userid=ext)], ignore_conflicts=True, using_db=conn
    )
    return await PointsAccount.select_for_update().using_db(conn).get(external_userid=ext)


async def _entry(conn: Any, deps: Deps, ext: str, **values: Any) -> PointsEntry:
    values.setdefault("at", deps.now())
    return await PointsEntry.create(external_userid=ext, using_db=conn, **values)


async def _allocate(conn: Any, entry: PointsEntry, ext: str, amount: int) -> int:
    """Take up to `amount` from the customer's lots, oldest first; returns how much."""
    taken = 0
    lots = (
        await PointsLot.filter(external_userid=ext, remaining__gt=0)
        .order_by("earned_at", "id")
        .using_db(conn)
    )
    for lot in lots:
        if taken >= amount:
            break
        take = min(lot.remaining, amount - taken)
        await PointsAllocation.create(entry_id=entry.id, lot_id=lot.id, amount=take, using_db=conn)
        await PointsLot.filter(id=lot.id).using_db(conn).update(remaining=F("remaining") - take)
        taken += take
    return taken


async def _new_lot(
    conn: Any, account: PointsAccount, entry: PointsEntry, expires_at: datetime | None
) -> tuple[PointsLot, int]:
    """A lot for a positive credit; a debt left by an allowed negative reversal is paid from
    it first. Returns the lot and the debt paid."""
    settle = min(account.debt, entry.amount) if account.debt > 0 else 0
    lot = await PointsLot.create(
        entry_id=entry.id,
        external_userid=entry.external_userid,
        amount=entry.amount,
        remaining=entry.amount - settle,
        earned_at=entry.at,
        expires_at=expires_at,
        using_db=conn,
    )
    if settle:
        await PointsAllocation.create(
            entry_id=entry.id, lot_id=lot.id, amount=settle, using_db=conn
        )
    return lot, settle


async def _apply(conn: Any, deps: Deps, ext: str, **changes: Any) -> int:
    """Move the account's numbers by the given deltas; returns the new balance."""
    update = {k: F(k) + v for k, v in changes.items() if v}
    if update:
        await (
            PointsAccount.filter(external_userid=ext)
            .using_db(conn)
            .update(updated_at=deps.now(), **update)
        )
    found = await PointsAccount.filter(external_userid=ext).using_db(conn).first()
    return int(found.balance) if found is not None else 0


async def announce(deps: Deps, posted: Posted) -> None:
    """`PointsChanged` for a committed entry (callers with their own transaction call it
    after the commit)."""
    e = posted.entry
    event = PointsChanged(
        external_userid=e.external_userid,
        entry_id=e.id,
        entry_kind=e.kind,
        rule=e.rule,
        amount=int(e.amount),
        balance=posted.balance,
        at=e.at,
    )
    await publish(deps, event, key=e.key)


# --- credits --------------------------------------------------------------------------------


async def credit(
    deps: Deps,
    ext: str,
    amount: int,
    *,
    key: str,
    kind: EntryKind,
    rule: str = "",
    reason: str = "",
    created_by: str = "",
    ref: str = "",
    expires_at: datetime | None = None,
    at: datetime | None = None,
    conn: Any = None,
    locked: bool = False,
    quota: Quota | None = None,
) -> Posted | None:
    """Credit `amount` (> 0) as a new lot, once per key; None when the key was used. With
    `conn`, inside the caller's transaction (`locked`: which already holds the account).
    With `quota`, one of its places is taken in the credit's transaction."""
    if amount <= 0:
        raise ValueError("a credit is positive")
    if conn is not None:
        if quota is not None:
            raise ValueError("a quota takes its place in the credit's own transaction")
        return await _credit(
            conn,
            deps,
            ext,
            amount,
            key,
            kind,
            rule,
            reason,
            created_by,
            ref,
            expires_at,
            at,
            locked,
        )
    try:
        async with in_transaction() as tx:
            if quota is not None:
                await _take_slot(tx, quota, ext)
            posted = await _credit(
                tx, deps, ext, amount, key, kind, rule, reason, created_by, ref, expires_at, at
            )
    except IntegrityError:
        return None
    await after_credit(deps, posted, expires_at)
    return posted


async def _credit(
    conn: Any,
    deps: Deps,
    ext: str,
    amount: int,
    key: str,
    kind: EntryKind,
    rule: str,
    reason: str,
    created_by: str,
    ref: str,
    expires_at: datetime | None,
    at: datetime | None,
    locked: bool = False,
) -> Posted:
    if locked:  # the caller holds the lock: read the row again (its debt may have moved)
        account = await PointsAccount.filter(external_userid=ext).using_db(conn).get()
    else:
        account = await lock(conn, ext)
    entry = await _entry(
        conn,
        deps,
        ext,
        key=key,
        kind=kind,
        rule=rule,
        amount=amount,
        reason=reason[:256],
        created_by=created_by,
        ref=ref,
        **({"at": at} if at else {}),
    )
    _, settled = await _new_lot(conn, account, entry, expires_at)
    balance = await _apply(conn, deps, ext, balance=amount, earned=amount, debt=-settled)
    return Posted(entry, balance)


async def after_credit(deps: Deps, posted: Posted, expires_at: datetime | None) -> None:
    """After a credit's commit: plan its expiry run and announce it."""
    if expires_at is not None:
        from handlers.points import expiry

        await expiry.plan_for(deps, expires_at)
    await announce(deps, posted)


# --- debits ---------------------------------------------------------------------------------


async def debit(
    deps: Deps,
    ext: str,
    amount: int,
    *,
    key: str,
    kind: EntryKind,
    rule: str = "",
    reason: str = "",
    created_by: str = "",
    ref: str = "",
) -> Posted | None:
    """Take `amount` (> 0) from the balance, oldest lots first; refused when the balance is
    short. None when the key was used."""
    if amount <= 0:
        raise ValueError("a debit is positive")
    try:
        async with in_transaction() as tx:
            posted = await debit_locked(
                tx,
                deps,
                ext,
                amount,
                key=key,
                kind=kind,
                rule=rule,
                reason=reason,
                created_by=created_by,
                ref=ref,
            )
    except IntegrityError:
        return None
    await announce(deps, posted)
    return posted


async def debit_locked(
    conn: Any,
    deps: Deps,
    ext: str,
    amount: int,
    *,
    key: str,
    kind: EntryKind,
    rule: str = "",
    reason: str = "",
    created_by: str = "",
    ref: str = "",
    what: str = "",
) -> Posted:
    """A debit inside the caller's transaction (`what` names it in a refusal)."""
    account = await lock(conn, ext)
    if account.balance < amount:
        prefix = f"{what}：" if what else ""
        raise LedgerRefused(f"{prefix}积分余额不足（当前 {account.balance} 分）")
    entry = await _entry(
        conn,
        deps,
        ext,
        key=key,
        kind=kind,
        rule=rule,
        amount=-amount,
        reason=reason[:256],
        created_by=created_by,
        ref=ref,
    )
    taken = await _allocate(conn, entry, ext, amount)
    balance = await _apply(conn, deps, ext, balance=-amount, debt=amount - taken)
    return Posted(entry, balance)


# --- redemption holds -----------------------------------------------------------------------


async def hold(
    conn: Any, deps: Deps, ext: str, cost: int, *, key: str, ref: str, reason: str
) -> Posted:
    """Set `cost` points aside inside the caller's transaction (the redemption's)."""
    account = await lock(conn, ext)
    if account.balance < cost:
        raise LedgerRefused(f"积分不足：需要 {cost} 分，当前可用 {account.balance} 分")
    entry = await _entry(
        conn,
        deps,
        ext,
        key=key,
        kind=EntryKind.HOLD,
        rule="redeem",
        amount=-cost,
        reason=reason,
        ref=ref,
    )
    taken = await _allocate(conn, entry, ext, cost)
    balance = await _apply(conn, deps, ext, balance=-cost, held=cost, debt=cost - taken)
    return Posted(entry, balance)


async def _restore(conn: Any, deps: Deps, entry: PointsEntry, debit_entry_id: int) -> list[int]:
    """Give back what a debit took from each lot; returns the lot ids."""
    rows = await PointsAllocation.filter(entry_id=debit_entry_id).using_db(conn)
    for alloc in rows:
        await PointsAllocation.create(
            entry_id=entry.id, lot_id=alloc.lot_id, amount=-alloc.amount, using_db=conn
        )
        await (
            PointsLot.filter(id=alloc.lot_id)
            .using_db(conn)
            .update(remaining=F("remaining") + alloc.amount)
        )
    return [a.lot_id for a in rows]


async def _expire_restored(conn: Any, deps: Deps, ext: str, lot_ids: list[int]) -> None:
    """Points given back to a lot whose time has passed expire at once."""
    now = deps.now()
    for lot in await PointsLot.filter(id__in=lot_ids, remaining__gt=0).using_db(conn):
        if lot.expires_at is not None and lot.expires_at <= now:
            await _expire_locked(conn, deps, ext, lot)


async def release_locked(
    conn: Any, deps: Deps, redemption: PointsRedemption, reason: str
) -> Posted | None:
    """Give a pending redemption's points back (inside the caller's transaction, after the
    redemption was moved to released)."""
    hold_entry = await PointsEntry.filter(key=f"hold:{redemption.id}").using_db(conn).first()
    if hold_entry is None:
        return None
    ext = redemption.external_userid
    await lock(conn, ext)
    entry = await _entry(
        conn,
        deps,
        ext,
        key=f"release:{redemption.id}",
        kind=EntryKind.RELEASE,
        rule="redeem",
        amount=redemption.cost,
        reason=reason,
        ref=str(redemption.id),
    )
    lots = await _restore(conn, deps, entry, hold_entry.id)
    restored = sum(
        a.amount for a in await PointsAllocation.filter(entry_id=hold_entry.id).using_db(conn)
    )
    balance = await _apply(
        conn,
        deps,
        ext,
        balance=redemption.cost,
        held=-redemption.cost,
        debt=-(redemption.cost - restored),
    )
    await _expire_restored(conn, deps, ext, lots)
    balance = await _apply(conn, deps, ext)
    return Posted(entry, balance)


async def spend_locked(conn: Any, deps: Deps, redemption: PointsRedemption, by: str) -> Posted:
    """A fulfilled redemption: its hold becomes a spend (the entry records it; the points
    left the balance with the hold)."""
    ext = redemption.external_userid
    await lock(conn, ext)
    entry = await _entry(
        conn,
        deps,
        ext,
        key=f"spend:{redemption.id}",
        kind=EntryKind.SPEND,
        rule="redeem",
        amount=0,
        reason=f"兑换「{redemption.reward_name}」已发放",
        created_by=by,
        ref=str(redemption.id),
    )
    balance = await _apply(conn, deps, ext, held=-redemption.cost)
    return Posted(entry, balance)


# --- expiry and zeroing ---------------------------------------------------------------------


async def _expire_locked(conn: Any, deps: Deps, ext: str, lot: PointsLot) -> Posted | None:
    fresh = await PointsLot.filter(id=lot.id).using_db(conn).get()
    if fresh.remaining <= 0:
        return None
    seq = await PointsEntry.filter(kind=EntryKind.EXPIRE, ref=str(lot.id)).using_db(conn).count()
    entry = await _entry(
        conn,
        deps,
        ext,
        key=f"expire:{lot.id}:{seq}",
        kind=EntryKind.EXPIRE,
        rule="expiry",
        amount=-fresh.remaining,
        reason="积分到期",
        ref=str(lot.id),
    )
    await PointsAllocation.create(
        entry_id=entry.id, lot_id=lot.id, amount=fresh.remaining, using_db=conn
    )
    await PointsLot.filter(id=lot.id).using_db(conn).update(remaining=0)
    balance = await _apply(conn, deps, ext, balance=-fresh.remaining)
    return Posted(entry, balance)


async def expire_due(deps: Deps, until: datetime) -> int:
    """Expire every lot due by `until` with points left; idempotent (each lot is re-read
    under its customer's lock). Returns how many lots expired."""
    done = 0
    lots = await PointsLot.filter(remaining__gt=0, expires_at__lte=until).order_by("id")
    for lot in lots:
        try:
            async with in_transaction() as tx:
                await lock(tx, lot.external_userid)
                posted = await _expire_locked(tx, deps, lot.external_userid, lot)
        except IntegrityError:
            continue
        if posted is not None:
            done += 1
            await announce(deps, posted)
    return done


async def zero(deps: Deps, ext: str, *, key: str, reason: str) -> Posted | None:
    """Release pending redemptions, then take the whole balance (leaving the groups)."""
    from handlers.points import redeem

    released: list[Posted] = []
    pending = await PointsRedemption.filter(external_userid=ext, state=RedemptionState.PENDING)
    for r in pending:
        got = await redeem.release(deps, r.id, "退出社群，兑换已取消")
        if got is not None:
            released.append(got)
    try:
        async with in_transaction() as tx:
            account = await lock(tx, ext)
            if account.balance <= 0:
                return None
            amount = int(account.balance)
            entry = await _entry(
                tx,
                deps,
                ext,
                key=key,
                kind=EntryKind.ZERO,
                rule="leave",
                amount=-amount,
                reason=reason,
            )
            taken = await _allocate(tx, entry, ext, amount)
            balance = await _apply(tx, deps, ext, balance=-amount, debt=amount - taken)
    except IntegrityError:
        return None
    posted = Posted(entry, balance)
    await announce(deps, posted)
    return posted


# --- reversal -------------------------------------------------------------------------------


async def reverse(
    deps: Deps, entry_id: int, *, by: str, allow_negative: bool, reason: str = ""
) -> Posted:
    """Undo one earn, import or manual entry, once. A credit whose points were already spent
    or expired is refused with the reason unless the programme allows a negative balance."""
    original = await PointsEntry.get_or_none(id=entry_id)
    if original is None:
        raise LedgerRefused("找不到这条积分记录", 404)
    if original.kind not in REVERSIBLE or original.amount == 0:
        raise LedgerRefused("只能撤销积分发放、导入和手动调整的记录")
    ext = original.external_userid
    note = reason or f"撤销：{original.reason or original.rule}"
    try:
        async with in_transaction() as tx:
            await lock(tx, ext)
            key = f"reverse:{original.id}"
            if original.amount > 0:
                lot = await PointsLot.filter(entry_id=original.id).using_db(tx).get()
                short = original.amount - lot.remaining
                if short > 0 and not allow_negative:
                    raise LedgerRefused(
                        f"这笔积分中已有 {short} 分被使用或已过期，按积分规则不能撤销"
                    )
                entry = await _entry(
                    tx,
                    deps,
                    ext,
                    key=key,
                    kind=EntryKind.REVERSE,
                    rule=original.rule,
                    amount=-original.amount,
                    reason=note,
                    created_by=by,
                    ref=str(original.id),
                )
                take = min(lot.remaining, original.amount)
                if take:
                    await PointsAllocation.create(
                        entry_id=entry.id, lot_id=lot.id, amount=take, using_db=tx
                    )
                    await (
                        PointsLot.filter(id=lot.id)
                        .using_db(tx)
                        .update(remaining=F("remaining") - take)
                    )
                balance = await _apply(
                    tx, deps, ext, balance=-original.amount, debt=original.amount - take
                )
            else:
                amount = -original.amount
                entry = await _entry(
                    tx,
                    deps,
                    ext,
                    key=key,
                    kind=EntryKind.REVERSE,
                    rule=original.rule,
                    amount=amount,
                    reason=note,
                    created_by=by,
                    ref=str(original.id),
                )
                lots = await _restore(tx, deps, entry, original.id)
                restored = sum(
                    a.amount
                    for a in await PointsAllocation.filter(entry_id=original.id).using_db(tx)
                )
                await _apply(tx, deps, ext, balance=amount, debt=-(amount - restored))
                await _expire_restored(tx, deps, ext, lots)
                balance = await _apply(tx, deps, ext)
    except IntegrityError as exc:
        raise LedgerRefused("这条记录已经撤销过了") from exc
    posted = Posted(entry, balance)
    await announce(deps, posted)
    return posted


# --- reading and recomputing ------------------------------------------------------------------


async def account(ext: str) -> PointsAccount:
    found = await PointsAccount.get_or_none(external_userid=ext)
    return found or PointsAccount(external_userid=ext)


@dataclass
class Recomputed:
    balance: int
    held: int
    debt: int
    earned: int
    lots: dict[int, int]  # lot id -> remaining


async def recompute(ext: str) -> Recomputed:
    """Every number of the account rebuilt from the entries and allocations alone."""
    total = await PointsEntry.filter(external_userid=ext).annotate(s=Sum("amount")).values("s")
    balance = int(total[0]["s"] or 0) if total else 0
    earned_rows = (
        await PointsEntry.filter(
            external_userid=ext,
            amount__gt=0,
            kind__in=[EntryKind.EARN, EntryKind.IMPORT, EntryKind.MANUAL],
        )
        .annotate(s=Sum("amount"))
        .values("s")
    )
    earned = int(earned_rows[0]["s"] or 0) if earned_rows else 0
    amounts = {
        int(i): int(a)
        for i, a in await PointsLot.filter(external_userid=ext).values_list("id", "amount")
    }
    used: dict[int, int] = {}
    ids = sorted(amounts)
    for start in range(0, len(ids), 1000):
        rows = (
            await PointsAllocation.filter(lot_id__in=ids[start : start + 1000])
            .annotate(s=Sum("amount"))
            .group_by("lot_id")
            .values_list("lot_id", "s")
        )
        used.update({int(lot): int(total or 0) for lot, total in rows})
    lots = {i: amount - used.get(i, 0) for i, amount in amounts.items()}
    held_rows = (
        await PointsRedemption.filter(external_userid=ext, state=RedemptionState.PENDING)
        .annotate(s=Sum("cost"))
        .values("s")
    )
    held = int(held_rows[0]["s"] or 0) if held_rows else 0
    return Recomputed(balance, held, sum(lots.values()) - balance, earned, lots)
