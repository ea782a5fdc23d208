from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.sop import Freq, Mode, RunStatus, TaskState
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0019_points_import')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SopAlert',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('userid', fields.CharField(max_length=64)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sop_alert', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The ledger of click alert cards: one per (staff member, visitor, run) per window.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopClick',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('task_id', fields.BigIntField(db_index=True)),
                ('run_id', fields.BigIntField(db_index=True)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('visitor_id', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(default='', max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sop_click', 'app': 'models', 'pk_attr': 'id', 'table_description': "A click on a staff member's tracked link, `key` folds reloads within a minute."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopInteraction',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=255)),
                ('task_id', fields.BigIntField(db_index=True)),
                ('run_id', fields.BigIntField(db_index=True)),
                ('userid', fields.CharField(max_length=64)),
                ('external_userid', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=8)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sop_interaction', 'app': 'models', 'pk_attr': 'id', 'table_description': "A like or a comment on a member's moment, as get_moment_comments lists it (who and"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopPlan',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('mode', fields.CharEnumField(default=Mode.PERSONAL, description='TASK: task\nPERSONAL: personal', enum_type=Mode, max_length=8)),
                ('userids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('department_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tag_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('freq', fields.CharEnumField(default=Freq.DAILY, description='DAILY: daily\nWEEKLY: weekly\nMONTHLY: monthly\nONCE: once', enum_type=Freq, max_length=7)),
                ('weekdays', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('month_days', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('at_time', fields.CharField(default='12:00', max_length=5)),
                ('start_date', fields.DateField()),
                ('end_date', fields.DateField(null=True)),
                ('quiet_start', fields.CharField(default='', max_length=5)),
                ('quiet_end', fields.CharField(default='', max_length=5)),
                ('remind_again_minutes', fields.IntField(default=120)),
                ('poll_hours', fields.IntField(default=48)),
                ('items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('paused', fields.BooleanField(default=False)),
                ('deleted', fields.BooleanField(default=False)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'sop_plan', 'app': 'models', 'pk_attr': 'id', 'table_description': '`items` are content items (text, images / link / video), each run using the next one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('plan_id', fields.BigIntField(db_index=True)),
                ('key', fields.CharField(unique=True, max_length=128)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('late', fields.BooleanField(default=False)),
                ('mode', fields.CharEnumField(description='TASK: task\nPERSONAL: personal', enum_type=Mode, max_length=8)),
                ('item', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('tag_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=RunStatus.OPEN, description='OPEN: open\nCREATING: creating\nUNKNOWN: unknown\nFAILED: failed\nCLOSED: closed', enum_type=RunStatus, max_length=8)),
                ('jobid', fields.CharField(default='', max_length=128)),
                ('moment_id', fields.CharField(default='', max_length=128)),
                ('task_created_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('invalid_userids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error', fields.TextField(default='', unique=False)),
                ('follow_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('polls', fields.IntField(default=0)),
            ],
            options={'table': 'sop_run', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One executed run of a plan: the content it used (a snapshot), the WeCom task behind it'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SopTask',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run_id', fields.BigIntField(db_index=True)),
                ('plan_id', fields.BigIntField(db_index=True)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('token', fields.CharField(unique=True, max_length=64)),
                ('state', fields.CharEnumField(default=TaskState.PENDING, description='PENDING: pending\nPOSTED: posted\nSKIPPED: skipped\nMISSED: missed\nINVALID: invalid', enum_type=TaskState, max_length=7)),
                ('posted_via', fields.CharField(default='', max_length=8)),
                ('due_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminded_again_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('acted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('moment_id', fields.CharField(default='', max_length=128)),
                ('visible_count', fields.IntField(null=True)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sop_task', 'app': 'models', 'unique_together': (('run_id', 'userid'),), 'pk_attr': 'id', 'table_description': "A staff member's part in a run. `token` names the member's tracked link."},
            bases=['Model'],
        ),
    ]
