-- The raw SQL floor of one balance payment (tests/bench/test_payments_bench.py,
-- docs/benchmarks.md): in ONE transaction, the payer's conditional debit, the merchant's
-- credit, the payment record, its journal entry and its two postings — what
-- POST /api/v1/payments must write at least, without signing, idempotency, the hold, the
-- channel log or the outbox.
--
-- Variables (-D): merchant, app, mc (merchant channel), hot (the merchant's settlement
-- account), wallet0 and wallets (the payers are wallet0 .. wallet0 + wallets - 1, contiguous),
-- amount (minor units), direct:
--   direct=0  the design under test: the hot account's row is not touched; its credit is an
--             unapplied posting (no seq), folded in later in batches (docs/ledger.md);
--   direct=1  the merchant row is updated in every payment (seq + balance-after at once),
--             locked first as the lower id, as ledger.services.journal orders accounts.
-- pgbench stops a client whose \gset gets no row, i.e. a refused debit shows as a failure.
\set payer :wallet0 + random(0, :wallets - 1)
BEGIN;
\if :direct
UPDATE accounts_account
   SET total_minor = total_minor + :amount, available_minor = available_minor + :amount, seq = seq + 1
 WHERE id = :hot AND status <> 'closed'
RETURNING seq AS hot_seq, total_minor AS hot_total \gset
\endif
UPDATE accounts_account
   SET total_minor = total_minor - :amount, available_minor = available_minor - :amount, seq = seq + 1
 WHERE id = :payer AND status = 'active' AND (allow_overdraft OR available_minor >= :amount)
RETURNING seq AS payer_seq, total_minor AS payer_total \gset
INSERT INTO ledger_transaction (
    serial, kind, status, out_trade_no, channel, amount_minor, currency, refunded_minor, memo,
    destination, method, action, channel_state, paid_minor, expires_at, query_attempts,
    review_reason, metadata, created_at, finished_at, app_id, merchant_id, merchant_channel_id,
    payer_account_id, payee_account_id)
VALUES (
    'PGB' || pg_current_xact_id()::text, 'payment', 'succeeded', 'pgb-' || pg_current_xact_id()::text,
    'balance', :amount, 'CNY', 0, 'bench', '{}', 'balance', '{}', 'succeeded', :amount,
    now() + interval '15 minutes', 0, '', '{}', now(), now(), :app, :merchant, :mc, :payer, :hot)
RETURNING id AS txn \gset
INSERT INTO ledger_journalentry (transaction_id, reason, created_at)
VALUES (:txn, 'payment', now())
RETURNING id AS entry \gset
\if :direct
INSERT INTO ledger_posting (entry_id, account_id, direction, amount_minor, currency, applied, seq,
    balance_after_minor, created_at)
VALUES (:entry, :hot, 'credit', :amount, 'CNY', true, :hot_seq, :hot_total, now()),
       (:entry, :payer, 'debit', :amount, 'CNY', true, :payer_seq, :payer_total, now());
\else
INSERT INTO ledger_posting (entry_id, account_id, direction, amount_minor, currency, applied, seq,
    balance_after_minor, created_at)
VALUES (:entry, :payer, 'debit', :amount, 'CNY', true, :payer_seq, :payer_total, now()),
       (:entry, :hot, 'credit', :amount, 'CNY', false, NULL, NULL, now());
\endif
COMMIT;
