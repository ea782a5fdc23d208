from tortoise import migrations
from tortoise import fields

from storage.migrate import DropFieldIndex


class Migration(migrations.Migration):
    dependencies = [('models', '0026_radar_person_analytics_index')]

    initial = False

    operations = [
        DropFieldIndex(
            model_name='Visit',
            name='parent_visitor_id',
            field=fields.CharField(default='', max_length=32),
            table='radar_visit',
            index='idx_radar_visit_parent__509717',
        ),
        DropFieldIndex(
            model_name='Visit',
            name='radar_id',
            field=fields.IntField(),
            table='radar_visit',
            index='idx_radar_visit_radar_i_88d4af',
        ),
        DropFieldIndex(
            model_name='Visit',
            name='share_id',
            field=fields.BigIntField(),
            table='radar_visit',
            index='idx_radar_visit_share_i_fc270d',
        ),
        DropFieldIndex(
            model_name='Visit',
            name='visitor_id',
            field=fields.CharField(max_length=32),
            table='radar_visit',
            index='idx_radar_visit_visitor_1ac496',
        ),
    ]
