"""Plain-text rendering of ledger results for the CLI (pure)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sekisho.ledger.verify import VerificationReport

if TYPE_CHECKING:
    from sekisho.ledger.proofs import InclusionProof
    from sekisho.ledger.service import CheckpointResult, ExportSummary

__all__ = ["format_checkpoints", "format_export", "format_proof", "format_report"]


def format_report(report: VerificationReport) -> str:
    """One line per ledger, then problems (first bad entry first) and notices."""
    lines = []
    for s in report.ledgers:
        lines.append(
            f"{s.name}: {s.size} entries, {s.checkpoints} checkpoints, "
            f"anchored to {s.anchored_size}, {s.unanchored} not yet anchored, "
            f"root {s.root.hex()}"
        )
    lines += [f"notice: {text}" for text in report.notices]
    if report.ok:
        lines.append(f"OK: ledger verified ({report.unanchored} entries not yet anchored)")
    else:
        lines += [f"FAIL: {p}" for p in report.problems]
        lines.append(f"FAILED: first bad: {report.first_problem}")
    return "\n".join(lines)


def format_checkpoints(results: Sequence[CheckpointResult]) -> str:
    """The signed notes; the last line is the last signed checkpoint's root."""
    lines = []
    for r in results:
        if r.refused:
            lines.append(f"{r.ledger}: REFUSED: {r.refused}")
            continue
        state = "signed" if r.created else "unchanged"
        lines.append(f"{r.ledger}: {state} at size {r.size}")
        lines += [f"  published: {p}" for p in r.published]
        lines += [f"  publish failed: {e}" for e in r.publish_errors]
        lines.append(r.note.rstrip("\n"))
    if not results:
        lines.append("no ledger has entries yet")
    return "\n".join(lines)


def format_proof(proof: InclusionProof) -> str:
    """The proof as indented JSON (what an auditor keeps)."""
    return json.dumps(proof.to_json(), indent=2, ensure_ascii=False)


def format_export(summary: ExportSummary) -> str:
    """Counts, then the file path as the last line."""
    lines = [
        f"exported {summary.entries} entries and {summary.checkpoints} checkpoints "
        f"of {len(summary.ledgers)} ledgers, sealed with a final checkpoint over every entry",
        *(f"REFUSED final checkpoint: {why}" for why in summary.refused),
        f"sha256 {summary.sha256}",
        summary.path,
    ]
    return "\n".join(lines)
