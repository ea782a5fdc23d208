from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0011_radar_person_summary')]

    initial = False

    operations = [
        ops.RenameField(
            model_name='Person',
            old_name='staff',
            new_name='root_userid',
        ),
    ]
