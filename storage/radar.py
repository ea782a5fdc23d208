"""Smart radar (智能雷达): groups, radars, shares (one row per send), visitors, visits and the
alert ledger that keeps alerts to one per (staff, customer, radar, 30-minute bucket)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class RadarType(StrEnum):
    LINK = "link"
    PDF = "pdf"
    IMAGES = "images"
    VIDEO = "video"


class RadarGroup(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    order = fields.IntField(default=0, db_index=True)
    departments: list[int] = fields.JSONField(
        default=list
    )  # visible department ids; empty = everyone
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "radar_group"


class Radar(Model):
    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyNullableRelation[RadarGroup] = fields.ForeignKeyField(
        "models.RadarGroup", related_name="radars", null=True
    )
    name = fields.CharField(max_length=64)
    type = fields.CharEnumField(RadarType, max_length=8)
    url = fields.CharField(max_length=1024, default="")  # link type only
    files: list[dict[str, Any]] = fields.JSONField(
        default=list
    )  # stored upload names (pdf: 1, images: n, video: 1)
    title = fields.CharField(max_length=64)
    description = fields.CharField(max_length=256, default="")
    cover = fields.CharField(max_length=128, default="")  # stored upload name
    friends_only = fields.BooleanField(default=False)
    tag_ids: list[str] = fields.JSONField(default=list)
    alert = fields.BooleanField(default=True)
    timeline = fields.BooleanField(default=True)
    order = fields.IntField(default=0, db_index=True)
    deleted = fields.BooleanField(default=False, db_index=True)
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "radar"


class Share(Model):
    """One send from the chat toolbar, the token is the public link `/r/<token>`."""

    id = fields.BigIntField(primary_key=True)
    token = fields.CharField(max_length=64, unique=True)
    radar: fields.ForeignKeyRelation[Radar] = fields.ForeignKeyField(
        "models.Radar", related_name="shares"
    )
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, default="", db_index=True)
    chat_id = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "radar_share"


class Visit(Model):
    """One opening of a share link. Heartbeats are aggregated in Redis and written here."""

    id = fields.CharField(max_length=32, primary_key=True)
    share_id = fields.BigIntField()
    radar_id = fields.IntField()
    visitor_id = fields.CharField(max_length=32)
    external_userid = fields.CharField(max_length=64, default="", db_index=True)
    parent_visitor_id = fields.CharField(max_length=32, default="")
    level = fields.IntField(default=1)
    root_userid = fields.CharField(max_length=64, db_index=True)
    channel = fields.CharField(max_length=16, default="single")  # single | group | forward
    started_at = fields.DatetimeField(db_index=True)
    last_beat_at = fields.DatetimeField(null=True)
    duration_seconds = fields.IntField(default=0)
    progress = fields.IntField(default=0)  # 0-100
    max_page = fields.IntField(default=0)
    finalized = fields.BooleanField(default=False)

    class Meta:
        table = "radar_visit"
        # Every index costs each open its insert: the radar's own lookups go through these
        # (radar, x) pairs; the single ones left serve the queries across radars (a
        # customer's profile, a staff member's day, today's tile).
        indexes = (
            ("radar_id", "started_at"),
            ("radar_id", "visitor_id"),
            ("radar_id", "external_userid"),
            ("radar_id", "parent_visitor_id"),
            ("radar_id", "root_userid"),
        )


ANALYTICS_INDEX = (
    "radar_id", "root_userid", "level", "max_page", "last_at", "shared", "duration", "ext",
    "visits", "measured", "measured_duration", "measured_progress",
)  # fmt: skip


class Person(Model):
    """One person of one radar (the customer, else the browser: see handlers/radar/people.py),
    derived from their visits: recomputed from scratch whenever one of them is recorded or
    written back, so the analytics read one row per person instead of every visit."""

    id = fields.BigIntField(primary_key=True)
    radar_id = fields.IntField()
    person = fields.CharField(max_length=64)  # the customer's external_userid, else the visitor id
    ext = fields.CharField(max_length=64, default="")
    root_userid = fields.CharField(max_length=64, default="")  # of their first send (MIN)
    level = fields.IntField(default=1)
    visits = fields.IntField(default=0)
    duration = fields.IntField(default=0)
    best = fields.IntField(default=0)  # highest progress
    max_page = fields.IntField(default=0)
    last_at = fields.DatetimeField()
    last_duration = fields.IntField(default=0)
    last_channel = fields.CharField(max_length=16, default="")
    measured = fields.IntField(default=0)  # visits with heartbeats, and their sums
    measured_duration = fields.IntField(default=0)
    measured_progress = fields.IntField(default=0)
    shared = fields.IntField(default=0)  # 1 when a browser of theirs brought a visit
    brought = fields.IntField(default=0)  # other people who came through their browsers

    class Meta:
        table = "radar_person"
        unique_together = (("radar_id", "person"),)
        # the customer table's order; the two top-ten rankings, read backwards; and every
        # column of the analytics pass in its GROUP BY's order, so SQLite reads that pass
        # from the index alone without sorting the people (handlers/radar/queries.py)
        indexes = (
            ("radar_id", "last_at"),
            ("radar_id", "visits", "person"),
            ("radar_id", "duration", "person"),
            ANALYTICS_INDEX,
        )


class AlertLog(Model):
    id = fields.BigIntField(primary_key=True)
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64)
    radar_id = fields.IntField()
    bucket = fields.IntField()  # minutes since epoch // 30
    sent_at = fields.DatetimeField()
    card = fields.JSONField[dict[str, Any]](default=dict)  # as sent, for the 已跟进 update
    followed_by = fields.CharField(max_length=64, default="")  # who pressed 已跟进 first
    followed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "radar_alert_log"
        unique_together = (("userid", "external_userid", "radar_id", "bucket"),)


class TagMark(Model):
    """A radar's tags were put on a customer: once per (radar, customer), so a staff member
    who later removes them is not overruled."""

    id = fields.BigIntField(primary_key=True)
    radar_id = fields.IntField()
    external_userid = fields.CharField(max_length=64)
    marked_at = fields.DatetimeField()

    class Meta:
        table = "radar_tag_mark"
        unique_together = (("radar_id", "external_userid"),)
