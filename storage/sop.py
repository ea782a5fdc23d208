"""朋友圈SOP: moments plans, their runs, each staff member's task in a run, and the facts
gathered about it (link clicks, likes and comments).

A plan's runs are the core's scheduled runs (feature "sop.run", key "<plan>:<local time>"),
executed exactly once; a `SopRun` row is written when one executes, unique per (plan, key),
and a `SopTask` per (run, staff member). Clicks and interactions are append-only rows with
unique keys, so counts are derived and a replayed poll or click adds nothing."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Mode(StrEnum):
    TASK = "task"  # one enterprise moments task per run (add_moment_task)
    PERSONAL = "personal"  # a reminder card, the staff member posts with shareToExternalMoments


class Freq(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ONCE = "once"


class SopPlan(Model):
    """`items` are content items (text, images / link / video), each run using the next one.
    `created_by` is the staff member who made the plan."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    mode = fields.CharEnumField(Mode, default=Mode.PERSONAL)
    userids: list[str] = fields.JSONField(default=list)
    department_ids: list[int] = fields.JSONField(default=list)
    tag_ids: list[str] = fields.JSONField(default=list)
    freq = fields.CharEnumField(Freq, default=Freq.DAILY)
    weekdays: list[int] = fields.JSONField(default=list)  # 0 Monday .. 6 Sunday
    month_days: list[int] = fields.JSONField(default=list)  # 1..31, 29-31 = last day if shorter
    at_time = fields.CharField(max_length=5, default="12:00")  # HH:MM in the corp's zone
    start_date = fields.DateField()
    end_date = fields.DateField(null=True)  # inclusive, None = no end
    quiet_start = fields.CharField(max_length=5, default="")
    quiet_end = fields.CharField(max_length=5, default="")
    remind_again_minutes = fields.IntField(default=120)  # 0 = no second reminder
    poll_hours = fields.IntField(default=48)  # then unposted tasks are missed
    items: list[dict[str, Any]] = fields.JSONField(default=list)
    paused = fields.BooleanField(default=False)
    deleted = fields.BooleanField(default=False)
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sop_plan"


class RunStatus(StrEnum):
    OPEN = "open"  # reminders out; tasks being followed
    CREATING = "creating"  # add_moment_task claimed; the jobid not stored yet
    UNKNOWN = "unknown"  # the worker died inside add_moment_task: never created twice
    FAILED = "failed"  # WeCom refused the task
    CLOSED = "closed"  # the follow window ended: unposted tasks are missed


class SopRun(Model):
    """One executed run of a plan: the content it used (a snapshot), the WeCom task behind it
    in task mode, and how late it went out (延迟)."""

    id = fields.BigIntField(primary_key=True)
    plan_id = fields.BigIntField(db_index=True)
    key = fields.CharField(max_length=128, unique=True)  # the scheduled run's key
    token = fields.CharField(max_length=64, unique=True)  # the run's tracked link (task mode)
    due_at = fields.DatetimeField(db_index=True)
    started_at = fields.DatetimeField()
    late = fields.BooleanField(default=False)
    mode = fields.CharEnumField(Mode)
    item: dict[str, Any] = fields.JSONField(default=dict)
    tag_ids: list[str] = fields.JSONField(default=list)
    status = fields.CharEnumField(RunStatus, default=RunStatus.OPEN)
    jobid = fields.CharField(max_length=128, default="")
    moment_id = fields.CharField(max_length=128, default="")
    task_created_at = fields.DatetimeField(null=True, db_index=True)
    invalid_userids: list[str] = fields.JSONField(default=list)
    error = fields.TextField(default="")
    follow_until = fields.DatetimeField()
    polls = fields.IntField(default=0)

    class Meta:
        table = "sop_run"


class TaskState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    SKIPPED = "skipped"
    MISSED = "missed"
    INVALID = "invalid"  # WeCom refused the member as a sender (outside the app's range)


class PostedVia(StrEnum):
    TASK = "task"  # get_moment_task publish_status 1
    LINK = "link"  # the tracked link found in get_moment_list
    CARD = "card"  # the staff member pressed 已发布


class SopTask(Model):
    """A staff member's part in a run. `token` names the member's tracked link."""

    id = fields.BigIntField(primary_key=True)
    run_id = fields.BigIntField(db_index=True)
    plan_id = fields.BigIntField(db_index=True)
    userid = fields.CharField(max_length=64, db_index=True)
    token = fields.CharField(max_length=64, unique=True)
    state = fields.CharEnumField(TaskState, default=TaskState.PENDING)
    posted_via = fields.CharField(max_length=8, default="")
    due_at = fields.DatetimeField(db_index=True)
    reminded_at = fields.DatetimeField(null=True)
    reminded_again_at = fields.DatetimeField(null=True)
    acted_at = fields.DatetimeField(null=True)
    moment_id = fields.CharField(max_length=128, default="")  # the member's moment
    visible_count = fields.IntField(null=True)  # customers who can see it
    synced_at = fields.DatetimeField(null=True)  # last likes/comments sync

    class Meta:
        table = "sop_task"
        unique_together = (("run_id", "userid"),)


class SopClick(Model):
    """A click on a staff member's tracked link, `key` folds reloads within a minute."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    task_id = fields.BigIntField(db_index=True)  # 0: a task-mode click nobody could own
    run_id = fields.BigIntField(db_index=True)
    userid = fields.CharField(max_length=64, db_index=True)
    visitor_id = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64, default="")
    at = fields.DatetimeField()

    class Meta:
        table = "sop_click"


class SopInteraction(Model):
    """A like or a comment on a member's moment, as get_moment_comments lists it (who and
    when, WeCom gives no comment text)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=255, unique=True)
    task_id = fields.BigIntField(db_index=True)
    run_id = fields.BigIntField(db_index=True)
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=8)  # like, comment
    at = fields.DatetimeField()

    class Meta:
        table = "sop_interaction"


class SopAlert(Model):
    """The ledger of click alert cards: one per (staff member, visitor, run) per window."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    userid = fields.CharField(max_length=64)
    sent_at = fields.DatetimeField()

    class Meta:
        table = "sop_alert"
