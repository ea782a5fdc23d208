from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0015_points')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StagePoints',
            fields=[
                ('external_userid', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('balance', fields.BigIntField(default=0)),
                ('entry_id', fields.BigIntField(default=0)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stage_points', 'app': 'models', 'pk_attr': 'external_userid', 'table_description': "A customer's points balance as the last PointsChanged said, for the 积分 condition."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='StageRadarView',
            name='title',
            field=fields.CharField(default='', max_length=128),
        ),
    ]
