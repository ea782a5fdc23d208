"""裂变活动: activities, their prize tiers, participants, help attempts, counted helps, awards.

Facts are rows with unique keys: a participant is unique per (activity, customer), a counted
help per (activity, helper), an attempt per add (the follow fact's key), an award per
(participant, tier). Counts are derived from the rows, never kept in counters, except a tier's
`stock_left`, which only moves by one conditional UPDATE in the transaction that awards it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Outcome(StrEnum):
    COUNTED = "counted"
    OLD_CUSTOMER = "old_customer"  # the corp had added the helper before
    ALREADY_HELPED = "already_helped"  # the helper's one help in this activity is spent
    OUTSIDE_WINDOW = "outside_window"  # the add came before the start or after the end
    SELF = "self"  # the participant scanned their own poster
    REVOKED = "revoked"  # the helper deleted the staff member within the revoke window
    HELPER_LIMIT = "helper_limit"  # the helper reached the helps allowed across activities


class AwardState(StrEnum):
    WON = "won"  # stock taken: the prize waits to be handed out
    GIVEN = "given"  # a staff member marked it as handed out
    OUT_OF_STOCK = "out_of_stock"  # reached the tier when no stock was left


class FissionActivity(Model):
    """One activity. `published` False = a draft (never credits). The poster's background is
    stored here (a few hundred KB at most), with the boxes where the QR code, the avatar and
    the nickname are drawn, in the background's pixels."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    start_at = fields.DatetimeField(db_index=True)
    end_at = fields.DatetimeField(db_index=True)
    rules = fields.TextField(default="")
    published = fields.BooleanField(default=False)
    new_only = fields.BooleanField(default=True)
    revoke_hours = fields.IntField(default=0)  # 0 = a deletion never voids a help
    helper_limit = fields.IntField(default=0)  # helps per helper across activities, 0 = any
    staff: list[str] = fields.JSONField(
        default=list
    )  # acquisition staff behind every participant's QR
    welcome_text = fields.TextField(default="")
    poster_bg = fields.BinaryField(null=True)
    poster_layout: dict[str, Any] = fields.JSONField(default=dict)
    way_keep_days = fields.IntField(default=7)  # participants' QR codes live this long after end
    options: dict[str, Any] = fields.JSONField(
        default=dict
    )  # scripts, participating staff, reminders
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "fission_activity"


class FissionTier(Model):
    """A prize: `helpers` counted helps win it while `stock_left` lasts."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.BigIntField(db_index=True)
    level = fields.IntField()
    helpers = fields.IntField()
    prize = fields.CharField(max_length=64)
    stock = fields.IntField()
    stock_left = fields.IntField()
    redeem_text = fields.TextField(default="")

    class Meta:
        table = "fission_tier"
        unique_together = (("activity_id", "level"),)


class FissionParticipant(Model):
    """A customer in an activity. `code` is the short id carried by their QR code's state
    (`f:<code>`), `userid` the staff member who looks after them (redeems their prize)."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.BigIntField(db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    code = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=128, default="")
    avatar = fields.CharField(max_length=512, default="")
    userid = fields.CharField(max_length=64, default="", db_index=True)
    invited_by = fields.BigIntField(null=True)  # the participant whose poster brought them
    joined_at = fields.DatetimeField()

    class Meta:
        table = "fission_participant"
        unique_together = (("activity_id", "external_userid"),)


class FissionHelp(Model):
    """A counted help: one per helper and activity, whichever staff member they added.
    `revoked_at` set = voided by a quick deletion (awards already made stay)."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.BigIntField(db_index=True)
    participant_id = fields.BigIntField(db_index=True)
    helper = fields.CharField(max_length=64, db_index=True)
    helper_name = fields.CharField(max_length=128, default="")
    userid = fields.CharField(max_length=64, db_index=True)
    added_at = fields.DatetimeField(db_index=True)
    credited_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "fission_help"
        unique_together = (("activity_id", "helper"),)


class FissionAttempt(Model):
    """Every add through a participant's QR code and what became of it. `key` is the add's
    own (staff, helper, second), so a replayed or re-delivered add is the same attempt."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    activity_id = fields.BigIntField(db_index=True)
    participant_id = fields.BigIntField(db_index=True)
    helper = fields.CharField(max_length=64, db_index=True)
    userid = fields.CharField(max_length=64)
    at = fields.DatetimeField()
    outcome = fields.CharEnumField(Outcome, max_length=16)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "fission_attempt"


class FissionAward(Model):
    """A tier reached by a participant: stock taken (won), or none left (out_of_stock)."""

    id = fields.BigIntField(primary_key=True)
    participant_id = fields.BigIntField(db_index=True)
    tier_id = fields.BigIntField()
    activity_id = fields.BigIntField(db_index=True)
    state = fields.CharEnumField(AwardState, max_length=16)
    awarded_at = fields.DatetimeField()
    given_at = fields.DatetimeField(null=True)
    given_by = fields.CharField(max_length=64, default="")

    class Meta:
        table = "fission_award"
        unique_together = (("participant_id", "tier_id"),)


class FissionReview(Model):
    """An admin's look at a participant the risk signals flagged: ok (hand the prize out) or
    hold (do not); the latest decision stands."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.BigIntField(db_index=True)
    participant_id = fields.BigIntField(unique=True)
    decision = fields.CharField(max_length=8)
    reviewed_by = fields.CharField(max_length=64, default="")
    reviewed_at = fields.DatetimeField()

    class Meta:
        table = "fission_review"


class FissionVisit(Model):
    """An identified customer opened the activity's page from this browser and this address
    (the address kept only as a MAC): a risk signal when helpers share them."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.BigIntField(db_index=True)
    external_userid = fields.CharField(max_length=64)
    visitor_id = fields.CharField(max_length=32)
    address = fields.CharField(max_length=32)
    seen_at = fields.DatetimeField()

    class Meta:
        table = "fission_visit"
        unique_together = (("activity_id", "external_userid", "visitor_id", "address"),)
