-- The same payment into the hot account without buffering: the hot row is updated in
-- every transaction (first, being the lower id), so all clients queue on its row lock.
-- This is what buffering saves. Variables (-D): merchant, wallet0, wallets, hot.
-- The /*+<table> columns*/ and /*+<table> values*/ markers are filled by test_ledger_bench.py
-- with the table's other NOT NULL columns and the defaults Django would write for them, so
-- a column added to a model does not break the comparison.
\set payer :wallet0 + random(0, :wallets - 1)
\set amount random(1, 1000)
BEGIN;
INSERT INTO ledger_transaction (serial, kind, status, merchant_id, amount_minor, currency,
    payer_account_id, payee_account_id, created_at, finished_at /*+ledger_transaction columns*/)
  VALUES ('PGB' || pg_current_xact_id()::text, 'transfer', 'succeeded', :merchant, :amount, 'CNY',
    :payer, :hot, now(), now() /*+ledger_transaction values*/)
  RETURNING id AS txn \gset
INSERT INTO ledger_journalentry (transaction_id, reason, created_at /*+ledger_journalentry columns*/)
  VALUES (:txn, 'transfer', now() /*+ledger_journalentry values*/)
  RETURNING id AS entry \gset
UPDATE accounts_account SET total_minor = total_minor + :amount, available_minor = available_minor + :amount,
    seq = seq + 1
  WHERE id = :hot AND status <> 'closed'
  RETURNING seq AS hot_seq, total_minor AS hot_total \gset
UPDATE accounts_account SET total_minor = total_minor - :amount, available_minor = available_minor - :amount,
    seq = seq + 1
  WHERE id = :payer AND status = 'active' AND (allow_overdraft OR available_minor >= :amount)
  RETURNING seq AS payer_seq, total_minor AS payer_total \gset
INSERT INTO ledger_posting (entry_id, account_id, direction, amount_minor, currency, applied, seq,
    balance_after_minor, created_at /*+ledger_posting columns*/)
  VALUES (:entry, :payer, 'debit', :amount, 'CNY', true, :payer_seq, :payer_total, now() /*+ledger_posting values*/),
         (:entry, :hot, 'credit', :amount, 'CNY', true, :hot_seq, :hot_total, now() /*+ledger_posting values*/);
COMMIT;
