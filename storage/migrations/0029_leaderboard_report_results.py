from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    """The console data tables computed by the worker, kept per data version."""

    dependencies = [('models', '0028_visitor_pending_id_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ReportResult',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity_id', fields.IntField()),
                ('kind', fields.CharField(max_length=16)),
                ('version', fields.CharField(max_length=32)),
                ('settings', fields.CharField(max_length=16)),
                ('rows', fields.TextField()),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'lb_report_result', 'app': 'models', 'unique_together': (('activity_id', 'kind', 'version'),), 'pk_attr': 'id', 'table_description': 'A console data table (按成员, 按日期, TOP10) as the worker computed it for one data'},
            bases=['Model'],
        ),
    ]
