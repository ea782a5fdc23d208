"""社群积分 (community points): the programme, an append-only ledger with lots, sign-ins,
rewards and redemptions.

The ledger (`PointsEntry`) is the record: every earn, spend, hold, release, expiry, zeroing,
import, manual change and reversal is a row with a unique key. Lots (`PointsLot`, one per
positive credit) and the per-customer account (`PointsAccount`) are projections kept in the
same transaction as the entry and recomputable from the entries and their allocations.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class EntryKind(StrEnum):
    EARN = "earn"  # a rule's award (newcomer, sign-in, tiers, profile, follow)
    SPEND = "spend"  # a held redemption was fulfilled (amount 0: the hold is the debit)
    HOLD = "hold"  # points set aside for a pending redemption
    RELEASE = "release"  # a hold given back (timeout, zeroing, cancel)
    EXPIRE = "expire"
    ZERO = "zero"  # left the last scoped group
    IMPORT = "import"
    MANUAL = "manual"  # staff or admin award / deduct
    REVERSE = "reverse"


class RedemptionState(StrEnum):
    PENDING = "pending"
    FULFILLED = "fulfilled"
    RELEASED = "released"


class PointsProgram(Model):
    """The corp's one programme (id 1): its settings as validated JSON, and a version bumped
    on each save (abuse review compares earning before and after a change)."""

    id = fields.IntField(primary_key=True)
    config = fields.JSONField(default=dict)  # type: ignore[var-annotated]
    version = fields.IntField(default=1)
    updated_at = fields.DatetimeField(null=True)
    updated_by = fields.CharField(max_length=64, default="")
    started_at = fields.DatetimeField(null=True)  # first enabled: joins before it earn nothing

    class Meta:
        table = "points_program"


class PointsAccount(Model):
    """One customer's projection of the ledger, locked while an entry is written."""

    external_userid = fields.CharField(max_length=64, primary_key=True)
    balance = fields.BigIntField(default=0)  # sum of every entry's amount (available points)
    held = fields.BigIntField(default=0)  # points on pending redemptions
    debt = fields.BigIntField(default=0)  # debits no lot could cover (reversals allowed below 0)
    earned = fields.BigIntField(default=0)  # every positive credit ever
    streak = fields.IntField(default=0)  # consecutive sign-in days ending on last_signin
    signin_days = fields.IntField(default=0)  # every sign-in day ever
    last_signin = fields.DateField(null=True)
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "points_account"


class PointsEntry(Model):
    """One ledger entry. `amount` is signed: credits positive, debits negative."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    kind = fields.CharField(max_length=16, db_index=True)
    rule = fields.CharField(max_length=32, default="")  # newcomer, signin, streak, ...
    amount = fields.BigIntField()
    reason = fields.CharField(max_length=256, default="")
    created_by = fields.CharField(max_length=64, default="")  # staff userid, "" = the system
    ref = fields.CharField(max_length=64, default="")  # redemption id, reversed entry id ...
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "points_entry"
        indexes = (("external_userid", "at"),)


class PointsQuotaSlot(Model):
    """One of a capped award's places (`<quota>:<n>`, n ≤ the cap): taken in the award's
    transaction, so awards made at the same moment cannot pass the cap."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=128, unique=True)
    external_userid = fields.CharField(max_length=64)

    class Meta:
        table = "points_quota_slot"


class PointsLot(Model):
    """A positive credit's points, spent and expired oldest first."""

    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField(unique=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    amount = fields.BigIntField()
    remaining = fields.BigIntField()
    earned_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "points_lot"
        indexes = (("external_userid", "remaining"),)


class PointsAllocation(Model):
    """How much of a lot an entry took (positive) or gave back (negative)."""

    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField(db_index=True)
    lot_id = fields.BigIntField(db_index=True)
    amount = fields.BigIntField()

    class Meta:
        table = "points_allocation"


class PointsSignin(Model):
    """One sign-in per customer and local day, `streak` counts consecutive days up to it."""

    id = fields.BigIntField(primary_key=True)
    external_userid = fields.CharField(max_length=64)
    day = fields.DateField(db_index=True)
    streak = fields.IntField()
    streak_start = fields.DateField()
    chat_id = fields.CharField(max_length=64, default="")  # a scoped group they were in
    visitor_id = fields.CharField(max_length=32, default="")
    address = fields.CharField(max_length=64, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "points_signin"
        unique_together = (("external_userid", "day"),)


class PointsProfile(Model):
    """What a customer filled in on the profile form (完善信息)."""

    external_userid = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=64, default="")
    phone = fields.CharField(max_length=32, default="")
    wechat = fields.CharField(max_length=64, default="")
    address = fields.CharField(max_length=256, default="")
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "points_profile"


class PointsReward(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    cost = fields.IntField()
    stock = fields.IntField(default=0)
    image = fields.CharField(max_length=256, default="")
    description = fields.CharField(max_length=512, default="")
    active = fields.BooleanField(default=True)
    deleted = fields.BooleanField(default=False)
    order = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_reward"


class PointsRedemption(Model):
    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    reward_id = fields.BigIntField(db_index=True)
    reward_name = fields.CharField(max_length=64, default="")
    cost = fields.IntField()
    state = fields.CharField(max_length=16, default="pending", db_index=True)
    userid = fields.CharField(max_length=64, default="")  # the staff member who fulfils it
    created_at = fields.DatetimeField(db_index=True)
    release_at = fields.DatetimeField()
    fulfilled_by = fields.CharField(max_length=64, default="")
    done_at = fields.DatetimeField(null=True)
    card = fields.JSONField(default=dict)  # type: ignore[var-annotated]

    class Meta:
        table = "points_redemption"


class PointsBlock(Model):
    """The blacklist: a blocked customer earns nothing."""

    external_userid = fields.CharField(max_length=64, primary_key=True)
    reason = fields.CharField(max_length=256, default="")
    created_by = fields.CharField(max_length=64, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "points_block"


class PointsImport(Model):
    """An uploaded file of (customer, points, reason) rows: previewed, then applied once, all
    rows or none. Each applied row's entry is keyed by (import, row)."""

    id = fields.BigIntField(primary_key=True)
    filename = fields.CharField(max_length=128, default="")
    rows = fields.JSONField(default=list)  # type: ignore[var-annotated]
    state = fields.CharField(max_length=16, default="preview")  # preview | applied
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "points_import"


class PointsClaim(Model):
    """A customer's self-declared follow (视频号) waiting for a staff member's confirmation:
    one per customer and kind, ever."""

    id = fields.BigIntField(primary_key=True)
    external_userid = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)  # channels
    state = fields.CharField(max_length=16, default="pending")  # pending | confirmed
    userid = fields.CharField(max_length=64, default="")  # the staff member asked to confirm
    created_at = fields.DatetimeField()
    confirmed_by = fields.CharField(max_length=64, default="")
    confirmed_at = fields.DatetimeField(null=True)
    card = fields.JSONField(default=dict)  # type: ignore[var-annotated]

    class Meta:
        table = "points_claim"
        unique_together = (("external_userid", "kind"),)
