from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.schedule import RunState
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_public_visitors')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ScheduledRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('feature', fields.CharField(max_length=64)),
                ('key', fields.CharField(max_length=128)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharEnumField(default=RunState.PENDING, description='PENDING: pending\nRUNNING: running\nDONE: done\nSKIPPED: skipped\nCANCELLED: cancelled\nFAILED: failed', enum_type=RunState, max_length=9)),
                ('late', fields.BooleanField(default=False)),
                ('attempts', fields.IntField(default=0)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'scheduled_run', 'app': 'models', 'unique_together': (('feature', 'key'),), 'indexes': [Index(fields=['state', 'due_at'])], 'pk_attr': 'id', 'table_description': '`feature` is the registered handler name ("leaderboard.daily"), `key` the feature\'s own'},
            bases=['Model'],
        ),
    ]
