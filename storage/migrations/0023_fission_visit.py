from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0022_points_claim')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FissionVisit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('external_userid', fields.CharField(max_length=64)),
                ('visitor_id', fields.CharField(max_length=32)),
                ('address', fields.CharField(max_length=32)),
                ('seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fission_visit', 'app': 'models', 'unique_together': (('activity_id', 'external_userid', 'visitor_id', 'address'),), 'pk_attr': 'id', 'table_description': "An identified customer opened the activity's page from this browser and this address"},
            bases=['Model'],
        ),
    ]
