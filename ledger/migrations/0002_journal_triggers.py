"""The database enforces the journal (PostgreSQL):

- an entry balances per currency when its transaction commits (deferred constraint trigger;
  updates cannot unbalance it, the append-only trigger sees to that);
- postings are append-only: no delete, and an update may only apply a buffered posting once
  (applied false → true with its seq and balance-after), never change what it says.

SQLite, the embedded demo database, relies on ledger.services' own checks.
"""

from django.db import migrations

BALANCED_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_entry_must_balance() RETURNS trigger AS $$
DECLARE
    entry bigint := COALESCE(NEW.entry_id, OLD.entry_id);
    unbalanced record;
BEGIN
    SELECT currency, SUM(CASE WHEN direction = 'debit' THEN amount_minor ELSE -amount_minor END) AS net
      INTO unbalanced
      FROM ledger_posting WHERE entry_id = entry
     GROUP BY currency
    HAVING SUM(CASE WHEN direction = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits - credits = %',
            entry, unbalanced.currency, unbalanced.net
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

BALANCED_TRIGGER = """
CREATE CONSTRAINT TRIGGER ledger_posting_balanced
AFTER INSERT ON ledger_posting
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION ledger_entry_must_balance();
"""

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_posting_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'postings are append-only: post a reversing entry instead'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.entry_id <> OLD.entry_id OR NEW.account_id <> OLD.account_id
       OR NEW.direction <> OLD.direction OR NEW.amount_minor <> OLD.amount_minor
       OR NEW.currency <> OLD.currency OR NEW.hold_id IS DISTINCT FROM OLD.hold_id
       OR NEW.created_at <> OLD.created_at
       OR OLD.applied
       OR NOT NEW.applied THEN
        RAISE EXCEPTION 'postings are append-only: only a buffered posting may be applied, once'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

APPEND_ONLY_TRIGGER = """
CREATE TRIGGER ledger_posting_append_only
BEFORE UPDATE OR DELETE ON ledger_posting
FOR EACH ROW EXECUTE FUNCTION ledger_posting_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS ledger_posting_append_only ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_posting_balanced ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_posting_append_only();
DROP FUNCTION IF EXISTS ledger_entry_must_balance();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in (BALANCED_FUNCTION, BALANCED_TRIGGER, APPEND_ONLY_FUNCTION, APPEND_ONLY_TRIGGER):
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
