from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0023_fission_visit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PointsQuotaSlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=128)),
                ('external_userid', fields.CharField(max_length=64)),
            ],
            options={'table': 'points_quota_slot', 'app': 'models', 'pk_attr': 'id', 'table_description': "One of a capped award's places (`<quota>:<n>`, n ≤ the cap): taken in the award's"},
            bases=['Model'],
        ),
    ]
