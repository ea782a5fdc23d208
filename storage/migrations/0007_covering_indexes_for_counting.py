from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_contact_ways')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='FollowEvent',
            name=None,
            fields=['userid', 'kind', 'at'],
        ),
        ops.AddIndex(
            model_name='FollowEvent',
            index=Index(fields=['userid', 'kind', 'at', 'external_userid']),
        ),
        ops.AddIndex(
            model_name='FollowEvent',
            index=Index(fields=['external_userid', 'kind', 'at', 'userid']),
        ),
        ops.RemoveIndex(
            model_name='GroupMembershipEvent',
            name=None,
            fields=['chat_id', 'kind', 'at'],
        ),
        ops.AddIndex(
            model_name='GroupMembershipEvent',
            index=Index(fields=['chat_id', 'kind', 'at', 'member_type', 'member_id', 'invitor', 'scene']),
        ),
    ]
