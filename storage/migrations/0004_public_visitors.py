from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_durable_group_changes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LinkBinding',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('link', fields.CharField(unique=True, max_length=96)),
                ('visitor_id', fields.CharField(max_length=32)),
                ('external_userid', fields.CharField(max_length=64)),
                ('bound_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'visitor_link', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A personal link (sent to one customer) and the first browser that opened it: only that'},
            bases=['Model'],
        ),
        # the radar's visitors become the public pages' visitors (rows kept)
        ops.RunSQL('ALTER TABLE "radar_visitor" RENAME TO "visitor"'),
        ops.AlterModelOptions(
            name='Visitor',
            options={'table': 'visitor', 'app': 'models', 'pk_attr': 'id', 'table_description': "A browser (anonymous first-party id) and, through the service account's OAuth, who it is."},
        ),
        ops.AddField(
            model_name='Visitor',
            name='checked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Visitor',
            name='pending_id',
            field=fields.CharField(default='', db_index=True, max_length=64),
        ),
    ]
