"""Tenant lifecycle: suspend, reinstate, off-board, track overdue reviews; API key lifecycle.

    active ──suspend──► suspended ──reinstate──► active
                            └──offboard──► offboarding ──offboard --complete──► offboarded

Who may do what is decided by `policy` (pure). Each change runs in one
database transaction with its ledger entries, its outbox notifications and
its PostgreSQL NOTIFY; Redis is told after the commit (`sekisho.bus`).
Nothing here deletes a row.
"""
