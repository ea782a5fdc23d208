"""Referral leaderboard (拉新排行榜): activities, participants, teams, sent-notice ledger and
daily rank snapshots. Counts are never stored here: they are derived from the facts."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Metric(StrEnum):
    NEW_CUSTOMERS = "new_customers"  # 邀请客户成为企微客户
    GROUP_JOINS = "group_joins"  # 邀请客户加入群聊


class ActivityState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    ENDED = "ended"


class Activity(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)  # internal only
    description = fields.TextField(default="")  # rules shown to staff
    start_at = fields.DatetimeField(db_index=True)
    end_at = fields.DatetimeField(db_index=True)
    metric = fields.CharField(max_length=16, default=Metric.NEW_CUSTOMERS)
    dedup = fields.BooleanField(default=False)
    chat_ids: list[str] = fields.JSONField(default=list)  # group metric: the chosen customer groups
    top_n = fields.IntField(default=10)
    # Reminders.
    remind_start_end = fields.BooleanField(default=True)
    remind_daily = fields.BooleanField(default=True)
    daily_time = fields.CharField(max_length=5, default="18:00")  # HH:MM, corp time zone
    remind_about_to_rank = fields.BooleanField(default=True)
    about_to_rank_distance = fields.IntField(default=3)
    remind_on_off_list = fields.BooleanField(default=True)
    damping_minutes = fields.IntField(default=60)
    # Bookkeeping.
    deleted = fields.BooleanField(default=False, db_index=True)
    # A copy waiting for its admin: nothing runs (no cards, no report) until it is saved with
    # its dates.
    draft = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    started_done = fields.BooleanField(default=False)  # start work (resolve, notices) finished
    ended_done = fields.BooleanField(default=False)  # end notices and report finished

    class Meta:
        table = "lb_activity"


class ActivityDepartment(Model):
    """A whole department taking part (its staff are resolved and kept in sync)."""

    id = fields.IntField(primary_key=True)
    activity_id = fields.IntField(db_index=True)
    department_id = fields.IntField()

    class Meta:
        table = "lb_activity_department"
        unique_together = (("activity_id", "department_id"),)


class Participant(Model):
    """One staff member in an activity: `picked` = chosen by name, `via_dept` = from a dept."""

    id = fields.IntField(primary_key=True)
    activity_id = fields.IntField(db_index=True)
    userid = fields.CharField(max_length=64, db_index=True)
    picked = fields.BooleanField(default=False)
    via_dept = fields.BooleanField(default=False)
    team_id = fields.IntField(null=True)

    class Meta:
        table = "lb_participant"
        unique_together = (("activity_id", "userid"),)


class Team(Model):
    """Team PK: a department team (`department_id`) or a hand-made one (members by userid)."""

    id = fields.IntField(primary_key=True)
    activity_id = fields.IntField(db_index=True)
    name = fields.CharField(max_length=64)
    department_id = fields.IntField(null=True)
    members: list[str] = fields.JSONField(default=list)  # hand-made teams: userids

    class Meta:
        table = "lb_team"


class NoticeKind(StrEnum):
    START = "start"
    END = "end"
    DAILY = "daily"
    ABOUT_TO_RANK = "about_to_rank"
    ON_LIST = "on_list"
    DROPPED = "dropped"
    REPORT = "report"


class NoticeLog(Model):
    """One row per notice ever sent: the unique key is the guard against sending it twice
    (two workers, a restart, a replayed fact). `slot` is the local day or the crossing id."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.IntField()
    userid = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)
    slot = fields.CharField(max_length=32)
    sent_at = fields.DatetimeField()

    class Meta:
        table = "lb_notice_log"
        unique_together = (("activity_id", "userid", "kind", "slot"),)
        indexes = (("activity_id", "userid", "kind", "sent_at"),)


class RankSnapshot(Model):
    """Each participant's rank at the daily broadcast, for the movement arrows (↑3 / ↓1)."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.IntField()
    day = fields.DateField()
    userid = fields.CharField(max_length=64)
    rank = fields.IntField()
    count = fields.IntField()

    class Meta:
        table = "lb_rank_snapshot"
        unique_together = (("activity_id", "day", "userid"),)


class ReportResult(Model):
    """A console data table (按成员, 按日期, TOP10) as the worker computed it for one data
    version of the activity: pages show it at once while that version is current, and a
    newer version is computed again. Derived from the facts: losing it costs a recomputation.
    `started_at` is when its computation began (it counts every fact stored before then);
    `settings` is the part of the version that the activity's settings make."""

    id = fields.BigIntField(primary_key=True)
    activity_id = fields.IntField()
    kind = fields.CharField(max_length=16)
    version = fields.CharField(max_length=32)
    settings = fields.CharField(max_length=16)
    rows = fields.TextField()  # JSON
    started_at = fields.DatetimeField()

    class Meta:
        table = "lb_report_result"
        unique_together = (("activity_id", "kind", "version"),)
