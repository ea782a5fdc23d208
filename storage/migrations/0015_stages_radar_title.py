from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_stages')]

    initial = False

    operations = [
        ops.AddField(
            model_name='StageRadarView',
            name='title',
            field=fields.CharField(default='', max_length=128),
        ),
    ]
