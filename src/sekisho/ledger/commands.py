"""What `sekisho ledger ...` does, as plain functions the CLI wires to argparse.

Each returns a `CommandOutput` (text for stdout, exit code); none prints.
``verify --export`` needs no settings and no database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sekisho.ledger.entry import PLATFORM_LEDGER
from sekisho.ledger.note import NoteError, NoteVerifier
from sekisho.ledger.offline import verify_export_file
from sekisho.ledger.report import format_checkpoints, format_export, format_proof, format_report
from sekisho.ledger.service import LedgerService, ProofUnavailable
from sekisho.store.db import Database

__all__ = [
    "CommandOutput",
    "ledger_checkpoint",
    "ledger_export",
    "ledger_prove",
    "ledger_public_key",
    "ledger_verify",
    "open_service",
]


@dataclass(frozen=True)
class CommandOutput:
    """Text for standard output and the process exit code."""

    text: str
    exit_code: int = 0


@contextmanager
def open_service(settings: Any) -> Iterator[LedgerService]:
    """A LedgerService over ``settings.database_url`` and ``settings.ledger``."""
    db = Database(settings.database_url)
    try:
        yield LedgerService.from_settings(db, settings.ledger)
    finally:
        db.dispose()


def ledger_verify(
    settings: Any | None,
    *,
    export: str | None = None,
    public_key: str | None = None,
    against: Sequence[str] = (),
) -> CommandOutput:
    """`ledger verify [--export FILE] [--public-key KEY] [--against FILE ...]`.

    Exit 0 when everything verifies, 1 naming the first bad entry, 2 for bad
    arguments (an unreadable key or file).
    """
    try:
        pinned = NoteVerifier.parse(public_key) if public_key else None
        if export is not None:
            report = verify_export_file(export, public_key=public_key, against=against)
        else:
            if settings is None:
                raise ValueError("verifying the database needs --config (or use --export FILE)")
            with open_service(settings) as service:
                report = service.verify(against, pinned=pinned)
    except (NoteError, ValueError, OSError) as exc:
        return CommandOutput(f"error: {exc}", 2)
    return CommandOutput(format_report(report), report.exit_code)


def ledger_export(settings: Any, out: str, ledgers: Sequence[str] | None = None) -> CommandOutput:
    """`ledger export --out FILE`; the last line is the file written."""
    with open_service(settings) as service:
        summary = service.export(out, ledgers)
    return CommandOutput(format_export(summary), 1 if summary.refused else 0)


def ledger_prove(settings: Any, seq: int, ledger: str = PLATFORM_LEDGER) -> CommandOutput:
    """`ledger prove SEQ [--ledger NAME]`: inclusion proof against the latest checkpoint."""
    with open_service(settings) as service:
        try:
            return CommandOutput(format_proof(service.prove(seq, ledger)))
        except ProofUnavailable as exc:
            return CommandOutput(f"error: {exc}", 1)


def ledger_checkpoint(settings: Any) -> CommandOutput:
    """`ledger checkpoint`: sign (and publish) every ledger that grew; 1 if any was refused."""
    with open_service(settings) as service:
        results = service.checkpoint()
    refused = any(r.refused for r in results)
    return CommandOutput(format_checkpoints(results), 1 if refused else 0)


def ledger_public_key(settings: Any) -> CommandOutput:
    """The verifier key auditors pass as ``--public-key`` (last line)."""
    with open_service(settings) as service:
        return CommandOutput(service.public_key)
