from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_leaderboard_draft')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GroupChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('chat_id', fields.CharField(db_index=True, max_length=64)),
                ('member_id', fields.CharField(default='', max_length=64)),
                ('kind', fields.CharField(max_length=8)),
                ('scene', fields.IntField(default=0)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('done', fields.BooleanField(default=False, db_index=True)),
            ],
            options={'table': 'group_change', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A member change from a change_external_chat callback, until the group refresh reads'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='GroupMembershipEvent',
            name='notified',
            field=fields.BooleanField(default=False),
        ),
    ]
