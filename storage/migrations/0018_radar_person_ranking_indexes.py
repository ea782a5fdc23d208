from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_fission_review')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['radar_id', 'visits', 'person']),
        ),
        ops.AddIndex(
            model_name='Person',
            index=Index(fields=['radar_id', 'duration', 'person']),
        ),
    ]
