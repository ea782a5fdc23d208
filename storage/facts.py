"""Customer facts: customers, append-only follow and group-membership events, tags, timeline.

Append-only tables carry a unique `key`, so a replayed callback or a second sync inserts
nothing. The `FollowRelation` and `GroupMember` tables are the *current* state derived from
the events (and can be rebuilt from them).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

CUSTOMER_FIRST_ADD_INDEX = "customer_first_add"


class FollowEndReason(StrEnum):
    BY_CUSTOMER = "deleted_by_customer"  # del_follow_user
    BY_STAFF = "deleted_by_staff"  # del_external_contact
    TRANSFERRED = "transferred"  # del_external_contact with Source=DELETE_BY_TRANSFER


class FactSource(StrEnum):
    CALLBACK = "callback"
    SYNC = "sync"  # found by a full sync, never seen in a callback


class Customer(Model):
    external_userid = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128, default="")
    avatar = fields.CharField(max_length=512, default="")
    type = fields.IntField(default=1)  # 1 WeChat, 2 WeCom
    gender = fields.IntField(default=0)
    unionid = fields.CharField(max_length=64, default="", db_index=True)
    corp_name = fields.CharField(max_length=128, default="")
    # The first time anyone in the corp added this customer (leaderboard dedup, fission).
    first_added_at = fields.DatetimeField(null=True, db_index=True)
    first_added_by = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"
        # Covering the leaderboard's 去重 (who added a customer first, when), read once per
        # credited fact of a recomputation.
        indexes = (
            Index(
                fields=("external_userid", "first_added_at", "first_added_by"),
                name=CUSTOMER_FIRST_ADD_INDEX,
            ),
        )


class FollowEvent(Model):
    """Append-only: a staff member added a customer, or the relation ended."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=128, unique=True)
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    kind = fields.CharField(max_length=8)  # "add" | "end"
    at = fields.DatetimeField(db_index=True)
    add_way = fields.IntField(default=0)
    state = fields.CharField(max_length=64, default="", db_index=True)
    end_reason = fields.CharField(max_length=32, default="")
    source = fields.CharField(max_length=16, default=FactSource.CALLBACK)

    class Meta:
        table = "follow_event"
        # Covering indexes for counting over a million facts: per staff member inside a window,
        # and per customer for "added by someone else before" (去重).
        indexes = (
            ("userid", "kind", "at", "external_userid"),
            ("external_userid", "kind", "at", "userid"),
        )


class FollowRelation(Model):
    """Current relation per (staff, customer), derived from FollowEvent."""

    id = fields.BigIntField(primary_key=True)
    userid = fields.CharField(max_length=64, db_index=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    added_at = fields.DatetimeField(db_index=True)
    add_way = fields.IntField(default=0)
    state = fields.CharField(max_length=64, default="")
    remark = fields.CharField(max_length=128, default="")
    description = fields.CharField(max_length=512, default="")
    active = fields.BooleanField(default=True, db_index=True)
    ended_at = fields.DatetimeField(null=True)
    end_reason = fields.CharField(max_length=32, default="")
    source = fields.CharField(max_length=16, default=FactSource.CALLBACK)

    class Meta:
        table = "follow_relation"
        unique_together = (("userid", "external_userid"),)


class CorpTagGroup(Model):
    group_id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128)
    order = fields.BigIntField(default=0)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "corp_tag_group"


class CorpTag(Model):
    tag_id = fields.CharField(max_length=64, primary_key=True)
    group_id = fields.CharField(max_length=64, db_index=True)
    name = fields.CharField(max_length=128)
    order = fields.BigIntField(default=0)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "corp_tag"


class FollowTag(Model):
    """A corp tag on a follow relation (current state)."""

    id = fields.BigIntField(primary_key=True)
    userid = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64, db_index=True)
    tag_id = fields.CharField(max_length=64, db_index=True)
    added_at = fields.DatetimeField()

    class Meta:
        table = "follow_tag"
        unique_together = (("userid", "external_userid", "tag_id"),)


class CustomerGroup(Model):
    chat_id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128, default="")
    owner = fields.CharField(max_length=64, default="")
    notice = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="active")  # active | dismissed
    member_version = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer_group"


class GroupMembershipEvent(Model):
    """Append-only: one join or quit per real change (a re-join is a new join)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    chat_id = fields.CharField(max_length=64, db_index=True)
    member_id = fields.CharField(max_length=64, db_index=True)
    member_type = fields.IntField(default=2)  # 1 staff, 2 external
    kind = fields.CharField(max_length=8)  # "join" | "quit"
    scene = fields.IntField(default=0)  # join: 0 invite/link, 3 QR; quit: 0 left, 1 removed
    invitor = fields.CharField(max_length=64, default="", db_index=True)
    at = fields.DatetimeField(db_index=True)
    source = fields.CharField(max_length=16, default=FactSource.CALLBACK)
    # Listeners were told (set once they ran): a refresh interrupted in between tells them
    # when it runs again.
    notified = fields.BooleanField(default=False)

    class Meta:
        table = "group_membership_event"
        # Covering for counting joins per group inside a window.
        indexes = (("chat_id", "kind", "at", "member_type", "member_id", "invitor", "scene"),)


class GroupChange(Model):
    """A member change from a change_external_chat callback, until the group refresh reads
    groupchat/get: the member, join or quit, and the scene (only the callback carries it).
    In the database, so a refresh lost with Redis is found again and no scene is lost."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)  # the event and the member
    chat_id = fields.CharField(max_length=64, db_index=True)
    member_id = fields.CharField(max_length=64, default="")  # "" = refresh only
    kind = fields.CharField(max_length=8)  # "join" | "quit" | "refresh"
    scene = fields.IntField(default=0)
    at = fields.DatetimeField()
    recorded_at = fields.DatetimeField()
    done = fields.BooleanField(default=False, db_index=True)

    class Meta:
        table = "group_change"


class GroupMember(Model):
    """Current members of a group, derived from the membership events."""

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.CharField(max_length=64, db_index=True)
    member_id = fields.CharField(max_length=64, db_index=True)
    member_type = fields.IntField(default=2)
    join_time = fields.DatetimeField()
    join_scene = fields.IntField(default=0)
    invitor = fields.CharField(max_length=64, default="")
    name = fields.CharField(max_length=128, default="")

    class Meta:
        table = "group_member"
        unique_together = (("chat_id", "member_id"),)


class TimelineEntry(Model):
    """客户动态: one append-only table every feature writes through `handlers.facts.timeline`."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    external_userid = fields.CharField(max_length=64, db_index=True)
    userid = fields.CharField(max_length=64, default="")  # the staff member concerned, if any
    kind = fields.CharField(max_length=32)  # added, deleted, tag, group_join, radar_view, ...
    feature = fields.CharField(max_length=32, default="facts")
    text = fields.CharField(max_length=512)  # Chinese, shown in the sidebar
    detail = fields.JSONField[dict[str, object]](default=dict)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "timeline_entry"
        indexes = (("external_userid", "at"),)
