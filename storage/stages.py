"""客户阶段: journeys, their stages, rules and reminders, and the stage history of each follow
relation (customer x staff member).

The history is the append-only `StageTransition` table: one row per move, with a unique `key`
(a rule move is keyed by the relation, the journey and the rule's version, so the same rule
version moves a relation at most once) and a unique `(journey, relation, seq)` (two writers
racing on one relation cannot both append the same step). `StageCurrent` is the current stage
derived from it (rebuildable), kept in the same transaction as each insert.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

MAX_STAGES = 12
MAX_RULES = 6
MAX_CONDITIONS = 3
MAX_REMINDERS = 6


class MoveBy(StrEnum):
    RULE = "rule"
    STAFF = "staff"
    BATCH = "batch"


class Journey(Model):
    """A customer journey (客户旅程), shown in `position` order (the first is the top one)."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    description = fields.CharField(max_length=512, default="")
    position = fields.IntField(default=0, db_index=True)
    # Member staff (使用成员): relations of these staff members are in the journey.
    members = fields.JSONField[list[str]](default=list)
    automation = fields.BooleanField(default=True)  # 阶段自动化
    reminders = fields.BooleanField(default=True)  # 阶段提醒
    deleted = fields.BooleanField(default=False, db_index=True)
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "stage_journey"


class Stage(Model):
    """A stage of a journey: `position` orders the stages (a move forward = a higher one).
    A removed stage keeps its row (the history points at it), marked deleted."""

    id = fields.BigIntField(primary_key=True)
    journey_id = fields.BigIntField(db_index=True)
    position = fields.IntField(default=0)
    name = fields.CharField(max_length=32)
    description = fields.CharField(max_length=256, default="")
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "stage_stage"


class StageRule(Model):
    """An automation rule moving relations into `stage_id` when all its conditions hold.
    `version` grows on each edit: evaluation is idempotent per (relation, journey, version)."""

    id = fields.BigIntField(primary_key=True)
    journey_id = fields.BigIntField(db_index=True)
    stage_id = fields.BigIntField(db_index=True)
    name = fields.CharField(max_length=64, default="")
    conditions = fields.JSONField[list[dict[str, object]]](default=list)
    enabled = fields.BooleanField(default=False)
    version = fields.IntField(default=1)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "stage_rule"


class StageReminder(Model):
    """A reminder rule of a stage: `stay` (stayed more than `days`) or `silent` (not contacted
    for `days`, which needs message-archive data)."""

    id = fields.BigIntField(primary_key=True)
    journey_id = fields.BigIntField(db_index=True)
    stage_id = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=16)
    days = fields.IntField()
    to_owner = fields.BooleanField(default=True)
    to_admins = fields.BooleanField(default=False)
    enabled = fields.BooleanField(default=True)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "stage_reminder"


class StageTransition(Model):
    """Append-only: one move of one relation in one journey (from / to: a stage id, or None for
    the 未设置阶段 pool)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=191, unique=True)
    journey_id = fields.BigIntField()
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    seq = fields.IntField()  # 1, 2, ... per (journey, relation)
    from_stage_id = fields.BigIntField(null=True)
    to_stage_id = fields.BigIntField(null=True)
    by = fields.CharField(max_length=8)  # MoveBy
    created_by = fields.CharField(max_length=64, default="")  # the staff member, for staff/batch
    rule_id = fields.BigIntField(null=True)
    rule_version = fields.IntField(null=True)
    reason = fields.CharField(max_length=256, default="")
    facts = fields.JSONField[dict[str, object]](default=dict)  # what satisfied the rule
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "stage_transition"
        unique_together = (("journey_id", "userid", "external_userid", "seq"),)
        indexes = (("journey_id", "at"),)


class StageCurrent(Model):
    """Derived from StageTransition: each relation's latest step per journey."""

    id = fields.BigIntField(primary_key=True)
    journey_id = fields.BigIntField()
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    stage_id = fields.BigIntField(null=True, db_index=True)
    seq = fields.IntField()
    transition_id = fields.BigIntField()  # the entry into the current stage
    entered_at = fields.DatetimeField()

    class Meta:
        table = "stage_current"
        unique_together = (("journey_id", "userid", "external_userid"),)


class StageTagMark(Model):
    """A corp tag set on a relation through scrmbot (from TagsMarked by=scrmbot): tag
    conditions count only these, so tags changed in the WeCom client never move a stage."""

    id = fields.BigIntField(primary_key=True)
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64, db_index=True)
    tag_id = fields.CharField(max_length=64)
    at = fields.DatetimeField()

    class Meta:
        table = "stage_tag_mark"
        unique_together = (("userid", "external_userid", "tag_id"),)


class StageRadarView(Model):
    """A customer opened a radar (from RadarVisited), for the 查看雷达 condition."""

    id = fields.BigIntField(primary_key=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    radar_id = fields.BigIntField()
    title = fields.CharField(max_length=128, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "stage_radar_view"
        unique_together = (("external_userid", "radar_id"),)


class StagePoints(Model):
    """A customer's points balance as the last PointsChanged said, for the 积分 condition."""

    external_userid = fields.CharField(max_length=64, primary_key=True)
    balance = fields.BigIntField(default=0)
    entry_id = fields.BigIntField(default=0)  # the ledger entry it comes from
    at = fields.DatetimeField()

    class Meta:
        table = "stage_points"


class StageReminderLog(Model):
    """One reminder per (stage entry, reminder rule): the entry is the transition that put the
    relation into the stage."""

    id = fields.BigIntField(primary_key=True)
    transition_id = fields.BigIntField()
    reminder_id = fields.BigIntField()
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64)
    sent_at = fields.DatetimeField()

    class Meta:
        table = "stage_reminder_log"
        unique_together = (("transition_id", "reminder_id"),)
