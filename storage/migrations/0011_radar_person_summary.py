from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_conversation_welcome')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Person',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('radar_id', fields.IntField()),
                ('person', fields.CharField(max_length=64)),
                ('ext', fields.CharField(default='', max_length=64)),
                ('staff', fields.CharField(default='', max_length=64)),
                ('level', fields.IntField(default=1)),
                ('visits', fields.IntField(default=0)),
                ('duration', fields.IntField(default=0)),
                ('best', fields.IntField(default=0)),
                ('max_page', fields.IntField(default=0)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_duration', fields.IntField(default=0)),
                ('last_channel', fields.CharField(default='', max_length=16)),
                ('measured', fields.IntField(default=0)),
                ('measured_duration', fields.IntField(default=0)),
                ('measured_progress', fields.IntField(default=0)),
                ('shared', fields.IntField(default=0)),
                ('brought', fields.IntField(default=0)),
            ],
            options={'table': 'radar_person', 'app': 'models', 'unique_together': (('radar_id', 'person'),), 'indexes': [Index(fields=['radar_id', 'last_at'])], 'pk_attr': 'id', 'table_description': 'One person of one radar (the customer, else the browser: see handlers/radar/people.py),'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Visit',
            index=Index(fields=['radar_id', 'external_userid']),
        ),
        ops.AddIndex(
            model_name='Visit',
            index=Index(fields=['radar_id', 'parent_visitor_id']),
        ),
        ops.AddIndex(
            model_name='Visit',
            index=Index(fields=['radar_id', 'root_userid']),
        ),
    ]
