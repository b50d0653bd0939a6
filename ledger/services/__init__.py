"""The ledger's use cases. Only these write ledger rows or change balances."""
