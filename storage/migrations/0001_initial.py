from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.core import InboxStatus
from storage.facts import FactSource
from storage.leaderboard import Metric
from storage.radar import RadarType
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Activity",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=64)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "start_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
                ("end_at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ("metric", fields.CharField(default=Metric.NEW_CUSTOMERS, max_length=16)),
                ("dedup", fields.BooleanField(default=False)),
                (
                    "chat_ids",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("top_n", fields.IntField(default=10)),
                ("remind_start_end", fields.BooleanField(default=True)),
                ("remind_daily", fields.BooleanField(default=True)),
                ("daily_time", fields.CharField(default="18:00", max_length=5)),
                ("remind_about_to_rank", fields.BooleanField(default=True)),
                ("about_to_rank_distance", fields.IntField(default=3)),
                ("remind_on_off_list", fields.BooleanField(default=True)),
                ("damping_minutes", fields.IntField(default=60)),
                ("deleted", fields.BooleanField(default=False, db_index=True)),
                ("created_by", fields.CharField(default="", max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("started_done", fields.BooleanField(default=False)),
                ("ended_done", fields.BooleanField(default=False)),
            ],
            options={"table": "lb_activity", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ActivityDepartment",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("activity_id", fields.IntField(db_index=True)),
                ("department_id", fields.IntField()),
            ],
            options={
                "table": "lb_activity_department",
                "app": "models",
                "unique_together": (("activity_id", "department_id"),),
                "pk_attr": "id",
                "table_description": "A whole department taking part (its staff are resolved and kept in sync).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AlertLog",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("userid", fields.CharField(max_length=64)),
                ("external_userid", fields.CharField(max_length=64)),
                ("radar_id", fields.IntField()),
                ("bucket", fields.IntField()),
                ("sent_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "radar_alert_log",
                "app": "models",
                "unique_together": (("userid", "external_userid", "radar_id", "bucket"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ConsoleRole",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("userid", fields.CharField(unique=True, max_length=64)),
                ("role", fields.CharField(max_length=16)),
                (
                    "departments",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("granted_by", fields.CharField(default="", max_length=64)),
                ("granted_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "console_role",
                "app": "models",
                "pk_attr": "id",
                "table_description": "Who may use the console beyond staff: admin or dept_admin (super admins are in config).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CorpTag",
            fields=[
                (
                    "tag_id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("group_id", fields.CharField(db_index=True, max_length=64)),
                ("name", fields.CharField(max_length=128)),
                ("order", fields.BigIntField(default=0)),
                ("deleted", fields.BooleanField(default=False)),
            ],
            options={"table": "corp_tag", "app": "models", "pk_attr": "tag_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CorpTagGroup",
            fields=[
                (
                    "group_id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("name", fields.CharField(max_length=128)),
                ("order", fields.BigIntField(default=0)),
                ("deleted", fields.BooleanField(default=False)),
            ],
            options={"table": "corp_tag_group", "app": "models", "pk_attr": "group_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Customer",
            fields=[
                (
                    "external_userid",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("name", fields.CharField(default="", max_length=128)),
                ("avatar", fields.CharField(default="", max_length=512)),
                ("type", fields.IntField(default=1)),
                ("gender", fields.IntField(default=0)),
                ("unionid", fields.CharField(default="", db_index=True, max_length=64)),
                ("corp_name", fields.CharField(default="", max_length=128)),
                (
                    "first_added_at",
                    fields.DatetimeField(
                        null=True, db_index=True, auto_now=False, auto_now_add=False
                    ),
                ),
                ("first_added_by", fields.CharField(default="", max_length=64)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "customer", "app": "models", "pk_attr": "external_userid"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CustomerGroup",
            fields=[
                (
                    "chat_id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("name", fields.CharField(default="", max_length=128)),
                ("owner", fields.CharField(default="", max_length=64)),
                ("notice", fields.TextField(default="", unique=False)),
                ("status", fields.CharField(default="active", max_length=16)),
                ("member_version", fields.CharField(default="", max_length=64)),
                ("created_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "customer_group", "app": "models", "pk_attr": "chat_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Department",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=128)),
                ("parent_id", fields.IntField(default=0)),
                ("order", fields.BigIntField(default=0)),
                ("deleted", fields.BooleanField(default=False)),
            ],
            options={"table": "department", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="FollowEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=128)),
                ("userid", fields.CharField(db_index=True, max_length=64)),
                ("external_userid", fields.CharField(db_index=True, max_length=64)),
                ("kind", fields.CharField(max_length=8)),
                ("at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ("add_way", fields.IntField(default=0)),
                ("state", fields.CharField(default="", db_index=True, max_length=64)),
                ("end_reason", fields.CharField(default="", max_length=32)),
                ("source", fields.CharField(default=FactSource.CALLBACK, max_length=16)),
            ],
            options={
                "table": "follow_event",
                "app": "models",
                "indexes": [Index(fields=["userid", "kind", "at"])],
                "pk_attr": "id",
                "table_description": "Append-only: a staff member added a customer, or the relation ended.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="FollowRelation",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("userid", fields.CharField(db_index=True, max_length=64)),
                ("external_userid", fields.CharField(db_index=True, max_length=64)),
                (
                    "added_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
                ("add_way", fields.IntField(default=0)),
                ("state", fields.CharField(default="", max_length=64)),
                ("remark", fields.CharField(default="", max_length=128)),
                ("description", fields.CharField(default="", max_length=512)),
                ("active", fields.BooleanField(default=True, db_index=True)),
                ("ended_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("end_reason", fields.CharField(default="", max_length=32)),
                ("source", fields.CharField(default=FactSource.CALLBACK, max_length=16)),
            ],
            options={
                "table": "follow_relation",
                "app": "models",
                "unique_together": (("userid", "external_userid"),),
                "pk_attr": "id",
                "table_description": "Current relation per (staff, customer), derived from FollowEvent.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="FollowTag",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("userid", fields.CharField(max_length=64)),
                ("external_userid", fields.CharField(db_index=True, max_length=64)),
                ("tag_id", fields.CharField(db_index=True, max_length=64)),
                ("added_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "follow_tag",
                "app": "models",
                "unique_together": (("userid", "external_userid", "tag_id"),),
                "pk_attr": "id",
                "table_description": "A corp tag on a follow relation (current state).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="GroupMember",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("chat_id", fields.CharField(db_index=True, max_length=64)),
                ("member_id", fields.CharField(db_index=True, max_length=64)),
                ("member_type", fields.IntField(default=2)),
                ("join_time", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("join_scene", fields.IntField(default=0)),
                ("invitor", fields.CharField(default="", max_length=64)),
                ("name", fields.CharField(default="", max_length=128)),
            ],
            options={
                "table": "group_member",
                "app": "models",
                "unique_together": (("chat_id", "member_id"),),
                "pk_attr": "id",
                "table_description": "Current members of a group, derived from the membership events.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="GroupMembershipEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=160)),
                ("chat_id", fields.CharField(db_index=True, max_length=64)),
                ("member_id", fields.CharField(db_index=True, max_length=64)),
                ("member_type", fields.IntField(default=2)),
                ("kind", fields.CharField(max_length=8)),
                ("scene", fields.IntField(default=0)),
                ("invitor", fields.CharField(default="", db_index=True, max_length=64)),
                ("at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ("source", fields.CharField(default=FactSource.CALLBACK, max_length=16)),
            ],
            options={
                "table": "group_membership_event",
                "app": "models",
                "indexes": [Index(fields=["chat_id", "kind", "at"])],
                "pk_attr": "id",
                "table_description": "Append-only: one join or quit per real change (a re-join is a new join).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="InboxEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=64)),
                ("kind", fields.CharField(db_index=True, max_length=96)),
                ("xml", fields.TextField(unique=False)),
                (
                    "received_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=InboxStatus.PENDING,
                        db_index=True,
                        description="PENDING: pending\nDONE: done\nFAILED: failed\nDEAD: dead",
                        enum_type=InboxStatus,
                        max_length=7,
                    ),
                ),
                ("attempts", fields.IntField(default=0)),
                (
                    "next_attempt_at",
                    fields.DatetimeField(
                        null=True, db_index=True, auto_now=False, auto_now_add=False
                    ),
                ),
                ("last_error", fields.TextField(null=True, unique=False)),
                ("done_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("replied", fields.BooleanField(default=False)),
            ],
            options={
                "table": "inbox_event",
                "app": "models",
                "pk_attr": "id",
                "table_description": "One decrypted WeCom callback, written before the 200 is sent.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="HandlerRun",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                (
                    "inbox",
                    fields.ForeignKeyField(
                        "models.InboxEvent",
                        source_field="inbox_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="runs",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("handler", fields.CharField(max_length=128)),
                ("finished_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "inbox_handler_run",
                "app": "models",
                "unique_together": (("inbox", "handler"),),
                "pk_attr": "id",
                "table_description": "A handler that finished for an inbox row: a retry runs only the ones missing here.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="NoticeLog",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("activity_id", fields.IntField()),
                ("userid", fields.CharField(max_length=64)),
                ("kind", fields.CharField(max_length=16)),
                ("slot", fields.CharField(max_length=32)),
                ("sent_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "lb_notice_log",
                "app": "models",
                "unique_together": (("activity_id", "userid", "kind", "slot"),),
                "indexes": [Index(fields=["activity_id", "userid", "kind", "sent_at"])],
                "pk_attr": "id",
                "table_description": "One row per notice ever sent: the unique key is the guard against sending it twice",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Participant",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("activity_id", fields.IntField(db_index=True)),
                ("userid", fields.CharField(db_index=True, max_length=64)),
                ("picked", fields.BooleanField(default=False)),
                ("via_dept", fields.BooleanField(default=False)),
                ("team_id", fields.IntField(null=True)),
            ],
            options={
                "table": "lb_participant",
                "app": "models",
                "unique_together": (("activity_id", "userid"),),
                "pk_attr": "id",
                "table_description": "One staff member in an activity: `picked` = chosen by name, `via_dept` = from a dept.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RadarGroup",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=64)),
                ("order", fields.IntField(default=0, db_index=True)),
                (
                    "departments",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "radar_group", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Radar",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "group",
                    fields.ForeignKeyField(
                        "models.RadarGroup",
                        source_field="group_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="radars",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=64)),
                (
                    "type",
                    fields.CharEnumField(
                        description="LINK: link\nPDF: pdf\nIMAGES: images\nVIDEO: video",
                        enum_type=RadarType,
                        max_length=8,
                    ),
                ),
                ("url", fields.CharField(default="", max_length=1024)),
                (
                    "files",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("title", fields.CharField(max_length=64)),
                ("description", fields.CharField(default="", max_length=256)),
                ("cover", fields.CharField(default="", max_length=128)),
                ("friends_only", fields.BooleanField(default=False)),
                (
                    "tag_ids",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("alert", fields.BooleanField(default=True)),
                ("timeline", fields.BooleanField(default=True)),
                ("order", fields.IntField(default=0, db_index=True)),
                ("deleted", fields.BooleanField(default=False, db_index=True)),
                ("created_by", fields.CharField(default="", max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "radar", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RankSnapshot",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("activity_id", fields.IntField()),
                ("day", fields.DateField()),
                ("userid", fields.CharField(max_length=64)),
                ("rank", fields.IntField()),
                ("count", fields.IntField()),
            ],
            options={
                "table": "lb_rank_snapshot",
                "app": "models",
                "unique_together": (("activity_id", "day", "userid"),),
                "pk_attr": "id",
                "table_description": "Each participant's rank at the daily broadcast, for the movement arrows (↑3 / ↓1).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Share",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("token", fields.CharField(unique=True, max_length=64)),
                (
                    "radar",
                    fields.ForeignKeyField(
                        "models.Radar",
                        source_field="radar_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="shares",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("userid", fields.CharField(db_index=True, max_length=64)),
                ("external_userid", fields.CharField(default="", db_index=True, max_length=64)),
                ("chat_id", fields.CharField(default="", max_length=64)),
                (
                    "created_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "radar_share",
                "app": "models",
                "pk_attr": "id",
                "table_description": "One send from the chat toolbar, the token is the public link `/r/<token>`.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Staff",
            fields=[
                (
                    "userid",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64),
                ),
                ("name", fields.CharField(max_length=128)),
                (
                    "departments",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("main_department", fields.IntField(default=0)),
                ("avatar", fields.CharField(default="", max_length=512)),
                ("status", fields.IntField(default=1)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "staff", "app": "models", "pk_attr": "userid"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Team",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("activity_id", fields.IntField(db_index=True)),
                ("name", fields.CharField(max_length=64)),
                ("department_id", fields.IntField(null=True)),
                (
                    "members",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "lb_team",
                "app": "models",
                "pk_attr": "id",
                "table_description": "Team PK: a department team (`department_id`) or a hand-made one (members by userid).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="TimelineEntry",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("key", fields.CharField(unique=True, max_length=160)),
                ("external_userid", fields.CharField(db_index=True, max_length=64)),
                ("userid", fields.CharField(default="", max_length=64)),
                ("kind", fields.CharField(max_length=32)),
                ("feature", fields.CharField(default="facts", max_length=32)),
                ("text", fields.CharField(max_length=512)),
                (
                    "detail",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("at", fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "timeline_entry",
                "app": "models",
                "indexes": [Index(fields=["external_userid", "at"])],
                "pk_attr": "id",
                "table_description": "客户动态: one append-only table every feature writes through `handlers.facts.timeline`.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Visit",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                ("share_id", fields.BigIntField(db_index=True)),
                ("radar_id", fields.IntField(db_index=True)),
                ("visitor_id", fields.CharField(db_index=True, max_length=32)),
                ("external_userid", fields.CharField(default="", db_index=True, max_length=64)),
                ("parent_visitor_id", fields.CharField(default="", db_index=True, max_length=32)),
                ("level", fields.IntField(default=1)),
                ("root_userid", fields.CharField(db_index=True, max_length=64)),
                ("channel", fields.CharField(default="single", max_length=16)),
                (
                    "started_at",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
                (
                    "last_beat_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("duration_seconds", fields.IntField(default=0)),
                ("progress", fields.IntField(default=0)),
                ("max_page", fields.IntField(default=0)),
                ("finalized", fields.BooleanField(default=False)),
            ],
            options={
                "table": "radar_visit",
                "app": "models",
                "indexes": [
                    Index(fields=["radar_id", "started_at"]),
                    Index(fields=["radar_id", "visitor_id"]),
                ],
                "pk_attr": "id",
                "table_description": "One opening of a share link. Heartbeats are aggregated in Redis and written here.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Visitor",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32),
                ),
                ("openid", fields.CharField(default="", max_length=64)),
                ("unionid", fields.CharField(default="", db_index=True, max_length=64)),
                ("external_userid", fields.CharField(default="", db_index=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "radar_visitor",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A browser (anonymous first-party id) and who it turned out to be, when known.",
            },
            bases=["Model"],
        ),
    ]
