"""Offline verification of an export file: no database, no configuration.

    verify_export_file(path, public_key=None, against=())

``public_key`` pins the checkpoint key (a note verifier key string); without
it the key written in the export is used and the report says so. ``against``
names other evidence to hold the export to: older exports (compared entry by
entry and by their checkpoints) or published checkpoint files. Any
disagreement at a common size is a forked history.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sekisho.ledger.entry import StoredEntry
from sekisho.ledger.export import ExportSeal, ParsedExport, parse_export
from sekisho.ledger.merkle import leaf_hash
from sekisho.ledger.note import NoteError, NoteVerifier, open_note
from sekisho.ledger.verify import LedgerData, Problem, VerificationReport, verify_ledgers

__all__ = ["Evidence", "compare_ledgers", "load_evidence", "read_export", "verify_export_file"]


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for raw in fh:
            yield raw[:-1] if raw.endswith(b"\n") else raw


def read_export(path: str | os.PathLike[str]) -> ParsedExport:
    """Parse an export file (line problems are kept, not raised)."""
    return parse_export(_lines(Path(path)))


@dataclass(frozen=True)
class Evidence:
    """Outside evidence: exports and signed checkpoint notes, each with a label."""

    exports: tuple[tuple[str, ParsedExport], ...] = ()
    checkpoints: tuple[str, ...] = ()


def load_evidence(paths: Iterable[str | os.PathLike[str]]) -> Evidence:
    """Read each path as an export (JSONL) or as one published checkpoint note.

    A directory contributes every ``*.checkpoint`` file below it.
    """
    exports: list[tuple[str, ParsedExport]] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        files = sorted(path.rglob("*.checkpoint")) if path.is_dir() else [path]
        for file in files:
            data = file.read_bytes()
            if data.lstrip().startswith(b"{"):
                exports.append((str(file), read_export(file)))
            else:
                notes.append(data.decode("utf-8", errors="replace"))
    return Evidence(tuple(exports), tuple(notes))


def compare_ledgers(
    ours: dict[str, LedgerData], theirs: dict[str, LedgerData], label: str
) -> list[Problem]:
    """Name the first seq where two copies of a ledger disagree (a fork)."""
    problems = []
    for name in sorted(set(ours) & set(theirs)):
        a, b = ours[name].entries, theirs[name].entries
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x.seq != y.seq or _leaf(x) != _leaf(y):
                problems.append(Problem(name, i, f"forked history: differs from {label} here"))
                break
        else:
            if len(b) > len(a):
                problems.append(
                    Problem(
                        name,
                        len(a),
                        f"{label} holds {len(b)} entries, this copy only {len(a)} (tail truncated)",
                    )
                )
    return problems


def _leaf(entry: StoredEntry) -> bytes:
    return leaf_hash(entry.body)


def verify_export_file(
    path: str | os.PathLike[str],
    *,
    public_key: str | None = None,
    against: Sequence[str | os.PathLike[str]] = (),
) -> VerificationReport:
    """Verify an export with nothing but the file (and optionally a pinned key)."""
    parsed = read_export(path)
    return verify_parsed(parsed, public_key=public_key, evidence=load_evidence(against))


def verify_parsed(
    parsed: ParsedExport, *, public_key: str | None, evidence: Evidence
) -> VerificationReport:
    """Verify an already parsed export against optional outside evidence.

    Problem order: damaged lines, key trouble, the ledgers' own problems, forks.
    """
    key_problems: list[Problem] = []
    notices: list[str] = []
    verifiers: list[NoteVerifier] = []
    header = parsed.header
    if public_key is not None:
        try:
            verifiers.append(NoteVerifier.parse(public_key))
        except NoteError as exc:
            raise ValueError(f"--public-key: {exc}") from exc
        if header is not None and header.public_key.strip() != verifiers[0].encode():
            key_problems.append(Problem(None, None, "the export names a different public key"))
    elif header is not None:
        try:
            verifiers.append(NoteVerifier.parse(header.public_key))
        except NoteError as exc:
            key_problems.append(Problem(None, None, f"export public key unusable: {exc}"))
        notices.append("public key taken from the export itself; pin it with --public-key")
    witnesses = list(evidence.checkpoints)
    forks: list[Problem] = []
    for label, other in evidence.exports:
        witnesses += [cp.note for data in other.ledgers.values() for cp in data.checkpoints]
        forks += compare_ledgers(parsed.ledgers, other.ledgers, label)
    report = verify_ledgers(
        parsed.ledgers.values(),
        verifiers=verifiers,
        origin=header.origin if header else "",
        witnesses=witnesses,
        complete=bool(header and header.complete),
    )
    sealed = _check_seal(parsed, verifiers, report) if _version(parsed) >= 2 else []
    if _version(parsed) < 2:
        notices.append("version 1 export: no entry signatures and no seal to check")
    problems = (*parsed.problems, *key_problems, *report.problems, *sealed, *forks)
    return replace(report, problems=problems, notices=(*notices, *report.notices))


def _version(parsed: ParsedExport) -> int:
    return parsed.version


def _check_seal(
    parsed: ParsedExport, verifiers: Sequence[NoteVerifier], report: VerificationReport
) -> list[Problem]:
    """The end line's signed seal must state exactly what the file holds."""
    problems: list[Problem] = []
    for status in report.ledgers:
        if status.unanchored:
            problems.append(
                Problem(
                    status.name,
                    status.anchored_size,
                    f"seq {status.anchored_size}..{status.size - 1} are outside every checkpoint "
                    "(an export ends with a checkpoint over all its entries: lines removed?)",
                )
            )
    if parsed.seal is None:
        problems.append(Problem(None, None, "export has no signed seal (end line lost or edited)"))
        return problems
    try:
        seal = ExportSeal.parse(open_note(parsed.seal, verifiers).text)
    except (NoteError, ValueError) as exc:
        problems.append(Problem(None, None, f"export seal does not verify: {exc}"))
        return problems
    if seal.sha256 != parsed.sha256:
        problems.append(
            Problem(None, None, "export seal: the lines before it were changed, added or removed")
        )
    by_name = {s.name: s for s in report.ledgers}
    for name, size, root in seal.ledgers:
        found = by_name.get(name)
        if found is None:
            problems.append(Problem(name, None, "sealed ledger is missing from the export"))
        elif (found.size, found.root) != (size, root):
            problems.append(
                Problem(
                    name,
                    min(size, found.size),
                    f"export seal says {size} entries, the file holds {found.size} "
                    "(entries removed or added)",
                )
            )
    sealed_names = {name for name, _, _ in seal.ledgers}
    for status in report.ledgers:
        if status.name not in sealed_names and status.size:
            problems.append(Problem(status.name, None, "ledger is not covered by the export seal"))
    return problems
