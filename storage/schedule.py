"""Scheduled runs: one row per future piece of time-driven work a feature asked for.

The unique (feature, key) makes planning idempotent, and the row's state, changed only by
conditional UPDATEs, makes each run execute at most once at a time and finish once."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class RunState(StrEnum):
    PENDING = "pending"  # waiting for its due time (or for a retry after a failure)
    RUNNING = "running"  # claimed by a worker until lease_until
    DONE = "done"
    SKIPPED = "skipped"  # found past the feature's horizon: never run, recorded
    CANCELLED = "cancelled"  # the feature withdrew it before it ran
    FAILED = "failed"  # gave up after the last attempt


class ScheduledRun(Model):
    """`feature` is the registered handler name ("leaderboard.daily"), `key` the feature's own
    id for the run ("12:2024-06-01"). `late` marks a run executed well after its due time."""

    id = fields.BigIntField(primary_key=True)
    feature = fields.CharField(max_length=64)
    key = fields.CharField(max_length=128)
    due_at = fields.DatetimeField()
    state = fields.CharEnumField(RunState, default=RunState.PENDING)
    late = fields.BooleanField(default=False)
    attempts = fields.IntField(default=0)
    lease_until = fields.DatetimeField(null=True)  # claimed until, or not retried before
    payload: dict[str, Any] = fields.JSONField(default=dict)
    started_at = fields.DatetimeField(null=True)
    done_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "scheduled_run"
        unique_together = (("feature", "key"),)
        indexes = (("state", "due_at"),)
