-- One transfer between two distinct random wallets, written the way transfer_create
-- writes it, minus the ORM: the transaction record, the entry, both balance updates
-- (conditional, RETURNING the statement position) in ascending account id order, and the
-- two applied postings. The deferred trigger ledger_posting_balanced checks the entry at
-- COMMIT, as it does for the Django code. Variables (-D): merchant, wallet0, wallets.
-- The /*+<table> columns*/ and /*+<table> values*/ markers are filled by test_ledger_bench.py
-- with the table's other NOT NULL columns and the defaults Django would write for them, so
-- a column added to a model does not break the comparison.
\set a random(0, :wallets - 1)
\set b (:a + random(1, :wallets - 1)) % :wallets
\set payer :wallet0 + :a
\set payee :wallet0 + :b
\set amount random(1, 1000)
BEGIN;
INSERT INTO ledger_transaction (serial, kind, status, merchant_id, amount_minor, currency,
    payer_account_id, payee_account_id, created_at, finished_at /*+ledger_transaction columns*/)
  VALUES ('PGB' || pg_current_xact_id()::text, 'transfer', 'succeeded', :merchant, :amount, 'CNY',
    :payer, :payee, now(), now() /*+ledger_transaction values*/)
  RETURNING id AS txn \gset
INSERT INTO ledger_journalentry (transaction_id, reason, created_at /*+ledger_journalentry columns*/)
  VALUES (:txn, 'transfer', now() /*+ledger_journalentry values*/)
  RETURNING id AS entry \gset
\if :payer < :payee
UPDATE accounts_account SET total_minor = total_minor - :amount, available_minor = available_minor - :amount,
    seq = seq + 1
  WHERE id = :payer AND status = 'active' AND (allow_overdraft OR available_minor >= :amount)
  RETURNING seq AS payer_seq, total_minor AS payer_total \gset
UPDATE accounts_account SET total_minor = total_minor + :amount, available_minor = available_minor + :amount,
    seq = seq + 1
  WHERE id = :payee AND status <> 'closed'
  RETURNING seq AS payee_seq, total_minor AS payee_total \gset
\else
UPDATE accounts_account SET total_minor = total_minor + :amount, available_minor = available_minor + :amount,
    seq = seq + 1
  WHERE id = :payee AND status <> 'closed'
  RETURNING seq AS payee_seq, total_minor AS payee_total \gset
UPDATE accounts_account SET total_minor = total_minor - :amount, available_minor = available_minor - :amount,
    seq = seq + 1
  WHERE id = :payer AND status = 'active' AND (allow_overdraft OR available_minor >= :amount)
  RETURNING seq AS payer_seq, total_minor AS payer_total \gset
\endif
INSERT INTO ledger_posting (entry_id, account_id, direction, amount_minor, currency, applied, seq,
    balance_after_minor, created_at /*+ledger_posting columns*/)
  VALUES (:entry, :payer, 'debit', :amount, 'CNY', true, :payer_seq, :payer_total, now() /*+ledger_posting values*/),
         (:entry, :payee, 'credit', :amount, 'CNY', true, :payee_seq, :payee_total, now() /*+ledger_posting values*/);
COMMIT;
