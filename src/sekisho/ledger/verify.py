"""Pure verification of ledgers: chains, trees, signed checkpoints, witnesses, completeness.

The same function checks the live database (online) and an export file
(offline); both hand it plain records. Problems are listed in a stable order
(platform first, then the other ledgers by name; within a ledger, chain
before checkpoints), so the first problem names the first bad entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sekisho.ledger.checkpoint import CheckpointError, ledger_origin, open_checkpoint
from sekisho.ledger.entry import LEDGER_OPEN, PLATFORM_LEDGER, ChainCheck, StoredEntry, verify_chain
from sekisho.ledger.merkle import CompactRange
from sekisho.ledger.note import NoteVerifier
from sekisho.ledger.signing import check_signatures

__all__ = [
    "CheckpointRecord",
    "HeadRecord",
    "LedgerData",
    "LedgerStatus",
    "Problem",
    "VerificationReport",
    "verify_ledgers",
]


@dataclass(frozen=True)
class CheckpointRecord:
    """A stored checkpoint: its columns and its signed note."""

    ledger: str
    size: int
    root: bytes
    note: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class HeadRecord:
    """A ledger's head row (online verification only)."""

    size: int
    last_hash: bytes


@dataclass(frozen=True)
class LedgerData:
    """Everything known about one ledger, from the database or an export."""

    name: str
    entries: Sequence[StoredEntry]
    checkpoints: Sequence[CheckpointRecord] = ()
    head: HeadRecord | None = None


@dataclass(frozen=True)
class Problem:
    """One verification failure; ``seq`` names the entry when one is to blame."""

    ledger: str | None
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = [f"ledger {self.ledger}"] if self.ledger else []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass(frozen=True)
class LedgerStatus:
    """Summary of one verified ledger."""

    name: str
    size: int
    root: bytes
    checkpoints: int
    anchored_size: int

    @property
    def unanchored(self) -> int:
        """Entries after the latest valid checkpoint."""
        return self.size - self.anchored_size


@dataclass(frozen=True)
class VerificationReport:
    """Outcome of a verification; ``ok`` only when there is no problem at all."""

    problems: tuple[Problem, ...]
    ledgers: tuple[LedgerStatus, ...]
    notices: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def unanchored(self) -> int:
        return sum(status.unanchored for status in self.ledgers)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [
                {"ledger": p.ledger, "seq": p.seq, "reason": p.reason} for p in self.problems
            ],
            "ledgers": [
                {
                    "name": s.name,
                    "size": s.size,
                    "root": s.root.hex(),
                    "checkpoints": s.checkpoints,
                    "anchored_size": s.anchored_size,
                    "unanchored": s.unanchored,
                }
                for s in self.ledgers
            ],
            "unanchored": self.unanchored,
            "notices": list(self.notices),
        }


@dataclass
class _Work:
    data: LedgerData
    chain: ChainCheck
    problems: list[Problem] = field(default_factory=list)
    tree_problems: list[Problem] = field(default_factory=list)
    valid_sizes: list[int] = field(default_factory=list)


def verify_ledgers(
    ledgers: Iterable[LedgerData],
    *,
    verifiers: Sequence[NoteVerifier],
    origin: str,
    witnesses: Sequence[str] = (),
    complete: bool = True,
) -> VerificationReport:
    """Verify chains, trees and checkpoints of ``ledgers``.

    ``witnesses``: signed checkpoints obtained elsewhere (published files, an
    older export); each must match the entries, which detects truncation and
    forks. ``complete``: the ledgers are all there are, so every tenant ledger
    must be opened in the platform ledger and every opened ledger present.
    """
    work = {d.name: _Work(d, verify_chain(d.name, d.entries)) for d in ledgers}
    order = sorted(work, key=lambda n: (n != PLATFORM_LEDGER, n))
    for name in order:
        item = work[name]
        if item.chain.first_break is not None:
            brk = item.chain.first_break
            item.problems.append(Problem(name, brk.seq, brk.reason))
        _check_head(item)
    witness_problems: list[str] = []
    checkpoints = [(cp, False) for name in order for cp in work[name].data.checkpoints]
    checkpoints += [
        (cp, True) for cp in _witness_records(witnesses, verifiers, origin, work, witness_problems)
    ]
    by_ledger: dict[str, list[tuple[CheckpointRecord, bool]]] = {}
    for cp, is_witness in checkpoints:
        by_ledger.setdefault(cp.ledger, []).append((cp, is_witness))
    statuses = [_check_tree(work[n], by_ledger.get(n, []), verifiers, origin) for n in order]
    legacy = 0
    for status in statuses:
        item = work[status.name]
        sigs = [e.sig for e in item.data.entries]
        for bad in check_signatures(
            item.chain.leaf_hashes, sigs, verifiers, vouched=status.anchored_size
        ):
            item.problems.append(Problem(status.name, bad.seq, bad.reason))
        legacy += sum(1 for sig in sigs[: status.anchored_size] if not sig)
        # The first bad entry first: a forged row before the chain break it causes.
        item.problems.sort(key=lambda p: -1 if p.seq is None else p.seq)
        item.problems += item.tree_problems
    problems = [p for n in order for p in work[n].problems]
    if complete:
        problems += _check_registry(work)
    problems = [Problem(None, None, text) for text in witness_problems] + problems
    notices = (
        (f"{legacy} entries predate entry signatures; signed checkpoints vouch for them",)
        if legacy
        else ()
    )
    return VerificationReport(tuple(problems), tuple(statuses), notices)


def _check_head(item: _Work) -> None:
    head, chain = item.data.head, item.chain
    if head is None:
        return
    if head.size != chain.size:
        item.problems.append(
            Problem(
                item.data.name,
                min(head.size, chain.size),
                f"head row says {head.size} entries but {chain.size} are stored "
                "(entries deleted or inserted)",
            )
        )
    elif chain.size and head.last_hash != chain.leaf_hashes[-1]:
        item.problems.append(
            Problem(
                item.data.name, chain.size - 1, "head row's last hash does not match the last entry"
            )
        )


def _check_tree(
    item: _Work,
    checkpoints: list[tuple[CheckpointRecord, bool]],
    verifiers: Sequence[NoteVerifier],
    origin: str,
) -> LedgerStatus:
    name, leaves = item.data.name, item.chain.leaf_hashes
    wanted = sorted({cp.size for cp, _ in checkpoints if cp.size <= len(leaves)})
    roots: dict[int, bytes] = {}
    compact = CompactRange()
    if 0 in wanted:
        roots[0] = compact.root()
    for leaf in leaves:
        compact.append(leaf)
        if compact.size in wanted:
            roots[compact.size] = compact.root()
    anchored, count = 0, 0
    for cp, is_witness in sorted(checkpoints, key=lambda c: c[0].size):
        problem = _check_checkpoint(cp, is_witness, len(leaves), roots, verifiers, origin)
        if problem is None:
            anchored, count = max(anchored, cp.size), count + (not is_witness)
        else:
            item.tree_problems.append(problem)
    return LedgerStatus(name, len(leaves), compact.root(), count, anchored)


def _check_checkpoint(
    cp: CheckpointRecord,
    is_witness: bool,
    size: int,
    roots: dict[int, bytes],
    verifiers: Sequence[NoteVerifier],
    origin: str,
) -> Problem | None:
    what = f"{'witness ' if is_witness else ''}checkpoint at size {cp.size}"
    try:
        signed = open_checkpoint(cp.note, verifiers).checkpoint
    except CheckpointError as exc:
        return Problem(cp.ledger, None, f"{what}: {exc}")
    if signed.origin != ledger_origin(origin, cp.ledger):
        return Problem(cp.ledger, None, f"{what}: signed for origin {signed.origin!r}")
    if (signed.size, signed.root) != (cp.size, cp.root):
        return Problem(cp.ledger, None, f"{what}: stored size/root differ from the signed note")
    if cp.size > size:
        return Problem(
            cp.ledger,
            size,
            f"{what} covers {cp.size} entries but only {size} exist: "
            f"seq {size}..{cp.size - 1} missing (tail truncated)",
        )
    if roots[cp.size] != cp.root:
        return Problem(
            cp.ledger,
            None,
            f"{what}: entries 0..{cp.size - 1} do not produce the signed root "
            "(history rewritten or forked)",
        )
    return None


def _witness_records(
    notes: Sequence[str],
    verifiers: Sequence[NoteVerifier],
    origin: str,
    work: dict[str, _Work],
    problems: list[str],
) -> list[CheckpointRecord]:
    records = []
    prefix = origin + "/"
    for i, note in enumerate(notes):
        try:
            cp = open_checkpoint(note, verifiers).checkpoint
        except CheckpointError as exc:
            problems.append(f"witness checkpoint {i + 1}: {exc}")
            continue
        ledger = cp.origin[len(prefix) :] if cp.origin.startswith(prefix) else None
        if ledger is None:
            problems.append(f"witness checkpoint {i + 1}: foreign origin {cp.origin!r}")
        elif ledger not in work:
            problems.append(f"witness checkpoint {i + 1}: ledger {ledger} is missing entirely")
        else:
            records.append(CheckpointRecord(ledger, cp.size, cp.root, note))
    return records


def _check_registry(work: dict[str, _Work]) -> list[Problem]:
    problems: list[Problem] = []
    opened: dict[str, int] = {}
    platform = work.get(PLATFORM_LEDGER)
    for entry in platform.chain.entries if platform else ():
        if entry is not None and entry.action == LEDGER_OPEN:
            opened.setdefault(entry.target["id"], entry.seq)
    for name in sorted(work):
        if name != PLATFORM_LEDGER and name not in opened:
            problems.append(Problem(name, None, "ledger is not opened in the platform ledger"))
    for name, seq in sorted(opened.items(), key=lambda kv: kv[1]):
        if name not in work or not work[name].chain.size:
            problems.append(
                Problem(
                    PLATFORM_LEDGER,
                    seq,
                    f"ledger {name} opened here is missing (deleted wholesale)",
                )
            )
    return problems
