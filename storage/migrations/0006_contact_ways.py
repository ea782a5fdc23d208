from tortoise import migrations
from tortoise.migrations import operations as ops
from storage.contact_ways import WayKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_scheduled_runs')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ContactWay',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='CONTACT: contact\nJOIN: join', enum_type=WayKind, max_length=7)),
                ('config_id', fields.CharField(unique=True, max_length=64)),
                ('feature', fields.CharField(max_length=32)),
                ('purpose', fields.CharField(max_length=32)),
                ('owner_key', fields.CharField(max_length=128)),
                ('state', fields.CharField(default='', max_length=30)),
                ('qr_code', fields.TextField(default='', unique=False)),
                ('expires_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('delete_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'contact_way', 'app': 'models', 'unique_together': (('kind', 'feature', 'purpose', 'owner_key'),), 'pk_attr': 'id', 'table_description': 'One live way: `feature`, `purpose` and `owner_key` say who asked for it and for what'},
            bases=['Model'],
        ),
    ]
