from tortoise import migrations
from storage.contact_ways import WayKind
from tortoise import fields

from storage.migrate import StateOnlyAlterField


class Migration(migrations.Migration):
    dependencies = [('models', '0024_points_quota_slot')]

    initial = False

    operations = [
        StateOnlyAlterField(  # the enum's description only
            model_name='ContactWay',
            name='kind',
            field=fields.CharEnumField(description='CONTACT: contact\nJOIN: join\nLINK: link', enum_type=WayKind, max_length=7),
        ),
    ]
