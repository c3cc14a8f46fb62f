"""Tenant lifecycle: suspend, reinstate, off-board, track overdue reviews; API key lifecycle.

    active ──suspend──► suspended ──reinstate──► active
                            └──offboard──► offboarding ──offboard --complete──► offboarded

Through the API and the console each step is two acts (`requests`): an
operator's request, then the sign-off of the owner matching the reason; the
CLI's one-step form is the recorded break-glass path. Who may do what is
decided by `policy` (pure). Each change runs in one
database transaction with its ledger entries, its outbox notifications and
its PostgreSQL NOTIFY; Redis is told after the commit (`sekisho.bus`).
Nothing here deletes a row.
"""
