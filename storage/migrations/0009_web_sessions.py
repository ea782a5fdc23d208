from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_domain_events_and_radar_tag_marks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebSession',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('userid', fields.CharField(db_index=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'web_session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A signed-in browser. The cookie carries a random session id, this table only its hash,'},
            bases=['Model'],
        ),
    ]
