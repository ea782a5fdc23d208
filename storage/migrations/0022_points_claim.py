from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0021_customer_first_add_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PointsClaim',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('external_userid', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('state', fields.CharField(default='pending', max_length=16)),
                ('userid', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('confirmed_by', fields.CharField(default='', max_length=64)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('card', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'points_claim', 'app': 'models', 'unique_together': (('external_userid', 'kind'),), 'pk_attr': 'id', 'table_description': "A customer's self-declared follow (视频号) waiting for a staff member's confirmation:"},
            bases=['Model'],
        ),
    ]
