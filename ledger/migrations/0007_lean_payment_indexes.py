"""Four fewer index writes per payment (docs/benchmarks.md): foreign-key indexes that a
composite index already leads with, partial indexes for foreign keys that are mostly empty,
and the serial's uniqueness without Django's LIKE index beside it.

SQLite rebuilds a table to alter a column, which drops its triggers: the append-only
triggers of 0005 are created again."""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

sqlite_triggers = import_module("ledger.migrations.0005_sqlite_journal_triggers")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_webhookdelivery"),
        ("channels", "0002_alter_channelnotification_outcome"),
        ("ledger", "0006_refund_cap_and_adjustments"),
    ]

    operations = [
        migrations.AlterField(
            model_name="posting",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="accounts.account",
            ),
        ),
        migrations.AlterField(
            model_name="posting",
            name="hold",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="the hold whose frozen funds this debit consumed",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="postings",
                to="ledger.hold",
            ),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="app",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.merchantapp",
            ),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="merchant",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.merchant",
            ),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="refund_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refunds",
                to="ledger.transaction",
            ),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="serial",
            field=models.CharField(max_length=40),
        ),
        migrations.AddIndex(
            model_name="posting",
            index=models.Index(
                condition=models.Q(("hold__isnull", False)), fields=["hold"], name="posting_hold_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("refund_of__isnull", False)),
                fields=["refund_of"],
                name="transaction_refund_of_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.UniqueConstraint(fields=("serial",), name="transaction_unique_serial"),
        ),
        migrations.RunPython(sqlite_triggers.create, migrations.RunPython.noop),
    ]
