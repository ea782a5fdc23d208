from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops
from storage.contact_ways import WayKind
from tortoise import fields


class AlterDescriptionOnly(ops.AlterField):
    """Only the enum's generated description changes (max_length stays 7): nothing to do in
    the database. A real AlterField would rebuild the table on SQLite and lose its
    unique_together (kind, feature, purpose, owner_key)."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0024_points_quota_slot')]

    initial = False

    operations = [
        AlterDescriptionOnly(
            model_name='ContactWay',
            name='kind',
            field=fields.CharEnumField(description='CONTACT: contact\nJOIN: join\nLINK: link', enum_type=WayKind, max_length=7),
        ),
    ]
