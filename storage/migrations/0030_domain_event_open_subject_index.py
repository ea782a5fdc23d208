from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """The open domain events by subject and id, for the delivery's look at a subject's earlier
    events: a partial index, so the lookup does not walk the status index's open entries."""

    dependencies = [('models', '0029_leaderboard_report_results')]

    initial = False

    operations = [
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_domain_event_open_subject" ON "domain_event" '
            '("subject", "id") WHERE "status" IN (\'pending\', \'failed\')',
            reverse_sql='DROP INDEX IF EXISTS "idx_domain_event_open_subject"',
        ),
    ]
