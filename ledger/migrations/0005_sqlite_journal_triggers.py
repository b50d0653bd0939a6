"""Append-only postings on the embedded SQLite default too (PostgreSQL has had them since
0002). SQLite has no deferred constraint trigger, so the balanced-entry proof there is
journal_post's check of what it stored (ledger.services.journal)."""

from django.db import migrations

TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS ledger_posting_no_delete
    BEFORE DELETE ON ledger_posting
    BEGIN
        SELECT RAISE(ABORT, 'postings are append-only: post a reversing entry instead');
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS ledger_posting_apply_once
    BEFORE UPDATE ON ledger_posting
    WHEN NEW.entry_id <> OLD.entry_id OR NEW.account_id <> OLD.account_id
      OR NEW.direction <> OLD.direction OR NEW.amount_minor <> OLD.amount_minor
      OR NEW.currency <> OLD.currency OR NEW.hold_id IS NOT OLD.hold_id
      OR NEW.created_at <> OLD.created_at OR OLD.applied OR NOT NEW.applied
    BEGIN
        SELECT RAISE(ABORT, 'postings are append-only: only a buffered posting may be applied, once');
    END
    """,
]
DROP = ["DROP TRIGGER IF EXISTS ledger_posting_no_delete", "DROP TRIGGER IF EXISTS ledger_posting_apply_once"]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in TRIGGERS:
            schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_transaction_app_order_idx")]

    operations = [migrations.RunPython(create, drop)]
