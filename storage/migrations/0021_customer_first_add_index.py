from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0020_sop')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Customer',
            index=Index(fields=['external_userid', 'first_added_at', 'first_added_by'], name='customer_first_add'),
        ),
    ]
