from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_stages_points')]

    initial = False

    operations = [
        ops.CreateModel(
            name='FissionReview',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.BigIntField(db_index=True)),
                ('participant_id', fields.BigIntField(unique=True)),
                ('decision', fields.CharField(max_length=8)),
                ('reviewed_by', fields.CharField(default='', max_length=64)),
                ('reviewed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'fission_review', 'app': 'models', 'pk_attr': 'id', 'table_description': "An admin's look at a participant the risk signals flagged: ok (hand the prize out) or"},
            bases=['Model'],
        ),
    ]
