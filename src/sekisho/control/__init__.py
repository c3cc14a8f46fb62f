"""Control-plane services: each change validated, stored and recorded in the ledger."""
