from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0018_radar_person_ranking_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PointsImport',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('filename', fields.CharField(default='', max_length=128)),
                ('rows', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('state', fields.CharField(default='preview', max_length=16)),
                ('created_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('applied_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'points_import', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An uploaded file of (customer, points, reason) rows: previewed, then applied once, all'},
            bases=['Model'],
        ),
    ]
