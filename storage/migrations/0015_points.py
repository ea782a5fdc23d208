from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0014_stages')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PointsAccount',
            fields=[
                ('external_userid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('balance', fields.BigIntField(default=0)),
                ('held', fields.BigIntField(default=0)),
                ('debt', fields.BigIntField(default=0)),
                ('earned', fields.BigIntField(default=0)),
                ('streak', fields.IntField(default=0)),
                ('signin_days', fields.IntField(default=0)),
                ('last_signin', fields.DateField(null=True)),
                ('updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_account', 'app': 'models', 'pk_attr': 'external_userid', 'table_description': "One customer's projection of the ledger, locked while an entry is written."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsAllocation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry_id', fields.BigIntField(db_index=True)),
                ('lot_id', fields.BigIntField(db_index=True)),
                ('amount', fields.BigIntField()),
            ],
            options={'table': 'points_allocation', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How much of a lot an entry took (positive) or gave back (negative).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsBlock',
            fields=[
                ('external_userid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('reason', fields.CharField(default='', max_length=256)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_block', 'app': 'models', 'pk_attr': 'external_userid', 'table_description': 'The blacklist: a blocked customer earns nothing.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('kind', fields.CharField(db_index=True, max_length=16)),
                ('rule', fields.CharField(default='', max_length=32)),
                ('amount', fields.BigIntField()),
                ('reason', fields.CharField(default='', max_length=256)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('ref', fields.CharField(default='', max_length=64)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_entry', 'app': 'models', 'indexes': [Index(fields=['external_userid', 'at'])], 'pk_attr': 'id', 'table_description': 'One ledger entry. `amount` is signed: credits positive, debits negative.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsLot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('entry_id', fields.BigIntField(unique=True)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('amount', fields.BigIntField()),
                ('remaining', fields.BigIntField()),
                ('earned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_lot', 'app': 'models', 'indexes': [Index(fields=['external_userid', 'remaining'])], 'pk_attr': 'id', 'table_description': "A positive credit's points, spent and expired oldest first."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsProfile',
            fields=[
                ('external_userid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('name', fields.CharField(default='', max_length=64)),
                ('phone', fields.CharField(default='', max_length=32)),
                ('wechat', fields.CharField(default='', max_length=64)),
                ('address', fields.CharField(default='', max_length=256)),
                ('updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_profile', 'app': 'models', 'pk_attr': 'external_userid', 'table_description': 'What a customer filled in on the profile form (完善信息).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsProgram',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('config', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('version', fields.IntField(default=1)),
                ('updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_by', fields.CharField(default='', max_length=64)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_program', 'app': 'models', 'pk_attr': 'id', 'table_description': "The corp's one programme (id 1): its settings as validated JSON, and a version bumped"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsRedemption',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('reward_id', fields.BigIntField(db_index=True)),
                ('reward_name', fields.CharField(default='', max_length=64)),
                ('cost', fields.IntField()),
                ('state', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('userid', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('release_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('fulfilled_by', fields.CharField(default='', max_length=64)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('card', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'points_redemption', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsReward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('cost', fields.IntField()),
                ('stock', fields.IntField(default=0)),
                ('image', fields.CharField(default='', max_length=256)),
                ('description', fields.CharField(default='', max_length=512)),
                ('active', fields.BooleanField(default=True)),
                ('deleted', fields.BooleanField(default=False)),
                ('order', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_reward', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsSignin',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_userid', fields.CharField(max_length=64)),
                ('day', fields.DateField(db_index=True)),
                ('streak', fields.IntField()),
                ('streak_start', fields.DateField()),
                ('chat_id', fields.CharField(default='', max_length=64)),
                ('visitor_id', fields.CharField(default='', max_length=32)),
                ('address', fields.CharField(default='', max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_signin', 'app': 'models', 'unique_together': (('external_userid', 'day'),), 'pk_attr': 'id', 'table_description': 'One sign-in per customer and local day, `streak` counts consecutive days up to it.'},
            bases=['Model'],
        ),
    ]
