from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_web_sessions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConversationReply',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('kind', fields.CharField(max_length=32)),
                ('via', fields.CharField(max_length=16)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('inbox_id', fields.BigIntField(null=True)),
            ],
            options={'table': 'conversation_reply', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One answer the app gave a staff member, or one card-button press. The unique key (a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DefaultWelcome',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enabled', fields.BooleanField(default=False)),
                ('text', fields.TextField(default='', unique=False)),
                ('updated_by', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'welcome_default', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One row (id 1), edited by admins.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WelcomeLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('state', fields.CharField(default='', max_length=64)),
                ('provider', fields.CharField(default='', max_length=128)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('reason', fields.CharField(default='', max_length=32)),
                ('fallback_sent', fields.BooleanField(default=False)),
                ('event_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'welcome_log', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The welcome decision for one add: sent by which provider, or why not (no_code, late,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AlertLog',
            name='card',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='AlertLog',
            name='followed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='AlertLog',
            name='followed_by',
            field=fields.CharField(default='', max_length=64),
        ),
    ]
