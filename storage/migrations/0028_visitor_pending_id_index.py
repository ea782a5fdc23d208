from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """visitor.pending_id was added with db_index but its index was never built (the field's
    AddField in 0004 only changed the state); build it, named as tortoise names it."""

    dependencies = [('models', '0027_radar_visit_fewer_indexes')]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_visitor_pending_fa6155" ON "visitor" ("pending_id")',
            reverse_sql='DROP INDEX IF EXISTS "idx_visitor_pending_fa6155"',
        ),
    ]
