from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from storage.core import EventStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_covering_indexes_for_counting')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DomainEventRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=191)),
                ('kind', fields.CharField(db_index=True, max_length=64)),
                ('subject', fields.CharField(default='', db_index=True, max_length=191)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('published_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=EventStatus.PENDING, db_index=True, description='PENDING: pending\nDONE: done\nFAILED: failed\nDEAD: dead', enum_type=EventStatus, max_length=7)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'domain_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A published domain event (bot.domain_events), once per key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.DomainEventRow', source_field='event_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('subscriber', fields.CharField(max_length=128)),
                ('delivered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'domain_event_delivery', 'app': 'models', 'unique_together': (('event', 'subscriber'),), 'pk_attr': 'id', 'table_description': 'A subscriber that finished with an event: a retry runs only the ones missing here.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TagMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('radar_id', fields.IntField()),
                ('external_userid', fields.CharField(max_length=64)),
                ('marked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'radar_tag_mark', 'app': 'models', 'unique_together': (('radar_id', 'external_userid'),), 'pk_attr': 'id', 'table_description': "A radar's tags were put on a customer: once per (radar, customer), so a staff member"},
            bases=['Model'],
        ),
    ]
