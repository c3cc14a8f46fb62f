"""The audit ledger: append-only, hash-chained, Merkle-checkpointed, signed, verifiable.

    append(session, actor=..., action=..., target=..., tenant=...)   in the caller's transaction
    LedgerService(db, signer, origin=...)        checkpoint / prove / verify / export
    verify_export_file(path, public_key=...)     offline, no database
    commands.ledger_*                            what the CLI runs

Pure parts (no I/O): jcs, merkle, note, checkpoint, entry, verify, export, proofs, report.
"""

from sekisho.ledger.append import append
from sekisho.ledger.entry import PLATFORM_LEDGER, EntryError, LedgerEntry, tenant_ledger
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.service import LedgerService, run_periodic_checkpoints
from sekisho.ledger.verify import VerificationReport

__all__ = [
    "PLATFORM_LEDGER",
    "EntryError",
    "LedgerEntry",
    "LedgerService",
    "VerificationReport",
    "append",
    "run_periodic_checkpoints",
    "tenant_ledger",
    "verify_export_file",
]
