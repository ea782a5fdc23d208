from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0025_acquisition_link_kind')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['radar_id', 'root_userid', 'level', 'max_page', 'last_at', 'shared', 'duration', 'ext', 'visits', 'measured', 'measured_duration', 'measured_progress']),
        ),
    ]
