from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.fission import AwardState, Outcome
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_radar_person_root_userid')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FissionActivity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('start_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('end_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('rules', fields.TextField(default='', unique=False)),
                ('published', fields.BooleanField(default=False)),
                ('new_only', fields.BooleanField(default=True)),
                ('revoke_hours', fields.IntField(default=0)),
                ('helper_limit', fields.IntField(default=0)),
                ('staff', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('welcome_text', fields.TextField(default='', unique=False)),
                ('poster_bg', fields.BinaryField(null=True)),
                ('poster_layout', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('way_keep_days', fields.IntField(default=7)),
                ('options', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'fission_activity', 'app': 'models', 'pk_attr': 'id', 'table_description': "One activity. `published` False = a draft (never credits). The poster's background is"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FissionAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=160)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('participant_id', fields.BigIntField(db_index=True)),
                ('helper', fields.CharField(db_index=True, max_length=64)),
                ('userid', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharEnumField(description='COUNTED: counted\nOLD_CUSTOMER: old_customer\nALREADY_HELPED: already_helped\nOUTSIDE_WINDOW: outside_window\nSELF: self\nREVOKED: revoked\nHELPER_LIMIT: helper_limit', enum_type=Outcome, max_length=16)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fission_attempt', 'app': 'models', 'pk_attr': 'id', 'table_description': "Every add through a participant's QR code and what became of it. `key` is the add's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FissionAward',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('participant_id', fields.BigIntField(db_index=True)),
                ('tier_id', fields.BigIntField()),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('state', fields.CharEnumField(description='WON: won\nGIVEN: given\nOUT_OF_STOCK: out_of_stock', enum_type=AwardState, max_length=16)),
                ('awarded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('given_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('given_by', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'fission_award', 'app': 'models', 'unique_together': (('participant_id', 'tier_id'),), 'pk_attr': 'id', 'table_description': 'A tier reached by a participant: stock taken (won), or none left (out_of_stock).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FissionHelp',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('participant_id', fields.BigIntField(db_index=True)),
                ('helper', fields.CharField(db_index=True, max_length=64)),
                ('helper_name', fields.CharField(default='', max_length=128)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('added_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('credited_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fission_help', 'app': 'models', 'unique_together': (('activity_id', 'helper'),), 'pk_attr': 'id', 'table_description': 'A counted help: one per helper and activity, whichever staff member they added.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FissionParticipant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('external_userid', fields.CharField(db_index=True, max_length=64)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('name', fields.CharField(default='', max_length=128)),
                ('avatar', fields.CharField(default='', max_length=512)),
                ('userid', fields.CharField(default='', db_index=True, max_length=64)),
                ('invited_by', fields.BigIntField(null=True)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fission_participant', 'app': 'models', 'unique_together': (('activity_id', 'external_userid'),), 'pk_attr': 'id', 'table_description': "A customer in an activity. `code` is the short id carried by their QR code's state"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FissionTier',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('level', fields.IntField()),
                ('helpers', fields.IntField()),
                ('prize', fields.CharField(max_length=64)),
                ('stock', fields.IntField()),
                ('stock_left', fields.IntField()),
                ('redeem_text', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'fission_tier', 'app': 'models', 'unique_together': (('activity_id', 'level'),), 'pk_attr': 'id', 'table_description': 'A prize: `helpers` counted helps win it while `stock_left` lasts.'},
            bases=['Model'],
        ),
    ]
