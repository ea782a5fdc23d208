from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_fission')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Journey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('description', fields.CharField(default='', max_length=512)),
                ('position', fields.IntField(default=0, db_index=True)),
                ('members', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('automation', fields.BooleanField(default=True)),
                ('reminders', fields.BooleanField(default=True)),
                ('deleted', fields.BooleanField(default=False, db_index=True)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_journey', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A customer journey (客户旅程), shown in `position` order (the first is the top one).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Stage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('journey_id', fields.BigIntField(db_index=True)),
                ('position', fields.IntField(default=0)),
                ('name', fields.CharField(max_length=32)),
                ('description', fields.CharField(default='', max_length=256)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'stage_stage', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A stage of a journey: `position` orders the stages (a move forward = a higher one).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageCurrent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('journey_id', fields.BigIntField()),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('stage_id', fields.BigIntField(null=True, db_index=True)),
                ('seq', fields.IntField()),
                ('transition_id', fields.BigIntField()),
                ('entered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_current', 'app': 'models', 'unique_together': (('journey_id', 'userid', 'external_userid'),), 'pk_attr': 'id', 'table_description': "Derived from StageTransition: each relation's latest step per journey."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageRadarView',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('radar_id', fields.BigIntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_radar_view', 'app': 'models', 'unique_together': (('external_userid', 'radar_id'),), 'pk_attr': 'id', 'table_description': 'A customer opened a radar (from RadarVisited), for the 查看雷达 condition.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageReminder',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('journey_id', fields.BigIntField(db_index=True)),
                ('stage_id', fields.BigIntField(db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('days', fields.IntField()),
                ('to_owner', fields.BooleanField(default=True)),
                ('to_admins', fields.BooleanField(default=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'stage_reminder', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A reminder rule of a stage: `stay` (stayed more than `days`) or `silent` (not contacted'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageReminderLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transition_id', fields.BigIntField()),
                ('reminder_id', fields.BigIntField()),
                ('userid', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(max_length=64)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_reminder_log', 'app': 'models', 'unique_together': (('transition_id', 'reminder_id'),), 'pk_attr': 'id', 'table_description': 'One reminder per (stage entry, reminder rule): the entry is the transition that put the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageRule',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('journey_id', fields.BigIntField(db_index=True)),
                ('stage_id', fields.BigIntField(db_index=True)),
                ('name', fields.CharField(default='', max_length=64)),
                ('conditions', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('enabled', fields.BooleanField(default=False)),
                ('version', fields.IntField(default=1)),
                ('deleted', fields.BooleanField(default=False)),
            ],
            options={'table': 'stage_rule', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An automation rule moving relations into `stage_id` when all its conditions hold.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageTagMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('userid', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('tag_id', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_tag_mark', 'app': 'models', 'unique_together': (('userid', 'external_userid', 'tag_id'),), 'pk_attr': 'id', 'table_description': 'A corp tag set on a relation through scrmbot (from TagsMarked by=scrmbot): tag'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StageTransition',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=191)),
                ('journey_id', fields.BigIntField()),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('seq', fields.IntField()),
                ('from_stage_id', fields.BigIntField(null=True)),
                ('to_stage_id', fields.BigIntField(null=True)),
                ('by', fields.CharField(max_length=8)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('rule_id', fields.BigIntField(null=True)),
                ('rule_version', fields.IntField(null=True)),
                ('reason', fields.CharField(default='', max_length=256)),
                ('facts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_transition', 'app': 'models', 'unique_together': (('journey_id', 'userid', 'external_userid', 'seq'),), 'indexes': [Index(fields=['journey_id', 'at'])], 'pk_attr': 'id', 'table_description': 'Append-only: one move of one relation in one journey (from / to: a stage id, or None for'},
            bases=['Model'],
        ),
    ]
