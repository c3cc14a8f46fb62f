"""The ledger's database-backed operations: checkpoints, proofs, verification, export.

``LedgerService`` is built from a `Database` and a signer (or from settings);
everything it does is also reachable from the CLI through
`sekisho.ledger.commands`. Appending is not here: it happens inside the
caller's own transaction through `sekisho.ledger.append.append`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite

from sekisho.ledger import queries
from sekisho.ledger.checkpoint import Checkpoint, CheckpointError, ledger_origin, open_checkpoint
from sekisho.ledger.checkpoint import sign_checkpoint as sign_checkpoint_note
from sekisho.ledger.entry import (
    PLATFORM_LEDGER,
    ZERO_HASH,
    EntryError,
    LedgerEntry,
    StoredEntry,
    check_ledger_name,
    entry_from_body,
    verify_chain,
)
from sekisho.ledger.export import (
    ExportHeader,
    ExportSeal,
    checkpoint_line,
    end_line,
    entry_line,
    header_line,
)
from sekisho.ledger.keyfile import load_or_create_signing_key
from sekisho.ledger.merkle import MerkleTree, root, verify_consistency, verify_inclusion
from sekisho.ledger.note import NoteSigner, NoteVerifier, sign_note
from sekisho.ledger.offline import compare_ledgers, load_evidence
from sekisho.ledger.proofs import ConsistencyProof, InclusionProof
from sekisho.ledger.publish import DirectoryPublisher, Publisher, WebhookPublisher
from sekisho.ledger.signing import attach_entry_signer, check_signatures
from sekisho.ledger.tables import CHECKPOINTS as _C
from sekisho.ledger.verify import (
    CheckpointRecord,
    HeadRecord,
    VerificationReport,
    verify_ledgers,
)
from sekisho.store.db import Database

__all__ = [
    "CheckpointResult",
    "ExportSummary",
    "LedgerConfig",
    "LedgerIntegrityError",
    "LedgerService",
    "LedgerSummary",
    "ProofUnavailable",
    "run_periodic_checkpoints",
]

log = logging.getLogger(__name__)


class LedgerConfig(Protocol):
    """What the service reads from `sekisho.settings.LedgerSettings`."""

    signing_key_path: str
    origin: str
    publish_dir: str | None
    publish_webhook: str | None


class LedgerIntegrityError(Exception):
    """The stored ledger no longer matches what was signed; nothing new is signed."""


class ProofUnavailable(Exception):
    """No proof can be given yet (unknown seq, or not covered by a checkpoint)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CheckpointResult:
    """One ledger's checkpoint after `LedgerService.checkpoint`."""

    ledger: str
    size: int
    root: bytes
    note: str
    created: bool  # False: not grown since the latest checkpoint, or refused
    published: tuple[str, ...] = ()
    publish_errors: tuple[str, ...] = ()
    refused: str | None = None  # why nothing was signed (the ledger disagrees with itself)


@dataclass(frozen=True)
class LedgerSummary:
    """A ledger's size and the size its latest checkpoint anchors."""

    name: str
    size: int
    anchored_size: int

    @property
    def unanchored(self) -> int:
        return self.size - self.anchored_size


@dataclass(frozen=True)
class ExportSummary:
    """What `LedgerService.export` wrote."""

    path: str
    sha256: str
    entries: int
    checkpoints: int
    ledgers: tuple[str, ...] = field(default_factory=tuple)
    refused: tuple[str, ...] = ()  # ledgers exported without a final checkpoint, and why


class LedgerService:
    """Checkpoint signing, proofs, online verification and export over one database."""

    def __init__(
        self,
        db: Database,
        signer: NoteSigner,
        *,
        origin: str,
        publishers: Sequence[Publisher] = (),
        witness_paths: Sequence[str | os.PathLike[str]] = (),
        trusted: Sequence[NoteVerifier] = (),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.db = db
        self.signer = signer
        self.origin = origin
        self.publishers = tuple(publishers)
        self.witness_paths = tuple(witness_paths)
        self.verifiers = (signer.verifier, *trusted)
        self.clock = clock

    @classmethod
    def from_settings(cls, db: Database, settings: LedgerConfig) -> LedgerService:
        """Build from `sekisho.settings.LedgerSettings` (creates the key file on first use)."""
        signer = load_or_create_signing_key(settings.signing_key_path, settings.origin)
        publishers: list[Publisher] = []
        if settings.publish_dir:
            publishers.append(DirectoryPublisher(settings.publish_dir))
        if settings.publish_webhook:
            publishers.append(WebhookPublisher(settings.publish_webhook))
        witnesses = [settings.publish_dir] if settings.publish_dir else []
        attach_entry_signer(db, signer)
        return cls(
            db, signer, origin=settings.origin, publishers=publishers, witness_paths=witnesses
        )

    @property
    def public_key(self) -> str:
        """The verifier key string auditors pin with ``--public-key``."""
        return self.signer.verifier.encode()

    # -- checkpoints -------------------------------------------------------

    def checkpoint(self, ledgers: Sequence[str] | None = None) -> list[CheckpointResult]:
        """Sign a checkpoint for every ledger (default: all) that grew since its last one."""
        with queries.snapshot(self.db) as session:
            sizes = {name: head.size for name, head in queries.heads(session).items()}
        names = list(ledgers) if ledgers is not None else [n for n, s in sizes.items() if s]
        results = []
        for name in names:
            try:
                results.append(self._checkpoint_one(check_ledger_name(name)))
            except LedgerIntegrityError as exc:
                log.error("refusing to sign a checkpoint: %s", exc)
                results.append(
                    CheckpointResult(name, sizes.get(name, 0), b"", "", False, refused=str(exc))
                )
        return results

    def _checkpoint_one(self, ledger: str) -> CheckpointResult:
        with queries.snapshot(self.db) as session:
            head = queries.heads(session).get(ledger)
            latest = queries.latest_checkpoint(session, ledger)
            if head is None or head.size == 0:
                raise ProofUnavailable(f"ledger {ledger} has no entries")
            if latest is not None and latest.size >= head.size:
                return CheckpointResult(ledger, latest.size, latest.root, latest.note, False)
            tree_root = self._root_for_signing(session, ledger, head.size, head.last_hash, latest)
        note = sign_checkpoint_note(
            Checkpoint(ledger_origin(self.origin, ledger), head.size, tree_root), self.signer
        )
        self._store_checkpoint(ledger, head.size, tree_root, note)
        published, errors = self._publish(ledger, head.size, note)
        return CheckpointResult(ledger, head.size, tree_root, note, True, published, errors)

    def _root_for_signing(
        self,
        session: Any,
        ledger: str,
        size: int,
        last_hash: bytes,
        latest: CheckpointRecord | None,
    ) -> bytes:
        # Never sign over a ledger that disagrees with what was signed before:
        # the old root must still come out, and every new entry must chain.
        hashes = queries.leaf_hashes(session, ledger, size)
        if [seq for seq, _ in hashes] != list(range(size)):
            raise LedgerIntegrityError(f"ledger {ledger}: entries missing below seq {size}")
        leaves = [h for _, h in hashes]
        base = 0
        if latest is not None:
            try:
                open_checkpoint(latest.note, self.verifiers)
            except CheckpointError as exc:
                raise LedgerIntegrityError(f"ledger {ledger}: latest checkpoint: {exc}") from exc
            if root(leaves[: latest.size]) != latest.root:
                raise LedgerIntegrityError(
                    f"ledger {ledger}: entries no longer match the checkpoint at size {latest.size}"
                )
            base = latest.size
        fresh = queries.stored_entries(session, ledger, start=base, stop=size)
        check = verify_chain(
            ledger, fresh, start=base, prev=leaves[base - 1] if base else ZERO_HASH
        )
        if check.first_break is not None:
            raise LedgerIntegrityError(
                f"ledger {ledger}, seq {check.first_break.seq}: {check.first_break.reason}"
            )
        # Anchor nothing the gateway's key did not write (a row INSERTed with DB access alone).
        unsigned = check_signatures(
            check.leaf_hashes, [e.sig for e in fresh], self.verifiers, start=base, vouched=base
        )
        if unsigned:
            raise LedgerIntegrityError(
                f"ledger {ledger}, seq {unsigned[0].seq}: {unsigned[0].reason}"
            )
        if leaves[-1] != last_hash:
            raise LedgerIntegrityError(f"ledger {ledger}: head does not match the last entry")
        return root(leaves)

    def _store_checkpoint(self, ledger: str, size: int, tree_root: bytes, note: str) -> None:
        with self.db.begin() as session:
            maker = postgresql.insert if self.db.is_postgres else sqlite.insert
            stmt = maker(_C).values(
                ledger=ledger, size=size, root=tree_root, note=note, created_at=self.clock()
            )
            # Another replica may have signed the same size first; both notes are valid.
            session.execute(stmt.on_conflict_do_nothing(index_elements=["ledger", "size"]))

    def _publish(
        self, ledger: str, size: int, note: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        done, errors = [], []
        for publisher in self.publishers:
            try:
                done.append(publisher.publish(ledger, size, note))
            except OSError as exc:
                log.warning("publishing checkpoint %s@%d failed: %s", ledger, size, exc)
                errors.append(f"{type(publisher).__name__}: {exc}")
        return tuple(done), tuple(errors)

    def checkpoints(self, ledger: str | None = None) -> list[CheckpointRecord]:
        """Stored checkpoints, oldest first."""
        with queries.snapshot(self.db) as session:
            return queries.checkpoints(session, ledger)

    # -- reading (console, admin API) ----------------------------------------

    def summaries(self) -> list[LedgerSummary]:
        """Every ledger with its size and how much of it is anchored by a checkpoint."""
        with queries.snapshot(self.db) as session:
            heads = queries.heads(session)
            latest: dict[str, int] = {}
            for cp in queries.checkpoints(session):
                latest[cp.ledger] = max(latest.get(cp.ledger, 0), cp.size)
        return [
            LedgerSummary(name, head.size, latest.get(name, 0))
            for name, head in sorted(
                heads.items(), key=lambda kv: (kv[0] != PLATFORM_LEDGER, kv[0])
            )
        ]

    def entries(
        self, ledger: str = PLATFORM_LEDGER, *, start: int = 0, limit: int = 100
    ) -> list[LedgerEntry]:
        """Decoded entries ``start .. start+limit-1`` of one ledger (read-only views)."""
        with queries.snapshot(self.db) as session:
            stored = queries.stored_entries(session, ledger, start=start, stop=start + limit)
        try:
            return [entry_from_body(s.body) for s in stored]
        except EntryError as exc:
            raise LedgerIntegrityError(
                f"ledger {ledger}: {exc}; run `sekisho ledger verify`"
            ) from exc

    # -- proofs ------------------------------------------------------------

    def prove(self, seq: int, ledger: str = PLATFORM_LEDGER) -> InclusionProof:
        """Inclusion proof of entry ``seq`` against the ledger's latest checkpoint."""
        with queries.snapshot(self.db) as session:
            latest = queries.latest_checkpoint(session, ledger)
            if latest is None:
                raise ProofUnavailable(f"ledger {ledger} has no checkpoint yet")
            if not 0 <= seq < latest.size:
                raise ProofUnavailable(
                    f"seq {seq} is not anchored: the latest checkpoint of {ledger} covers "
                    f"0..{latest.size - 1}; run `sekisho ledger checkpoint`"
                )
            leaves = [h for _, h in queries.leaf_hashes(session, ledger, latest.size)]
            body = queries.stored_entries(session, ledger, start=seq, stop=seq + 1)[0].body
        tree = MerkleTree.build(leaves)
        proof = InclusionProof(
            ledger=ledger,
            seq=seq,
            body=body,
            tree_size=latest.size,
            root=latest.root,
            path=tuple(tree.inclusion_proof(seq)),
            checkpoint=latest.note,
        )
        try:  # prove nothing we would not accept ourselves
            verify_inclusion(seq, latest.size, proof.leaf_hash, proof.path, latest.root)
        except ValueError as exc:
            raise LedgerIntegrityError(f"ledger {ledger}: {exc}") from exc
        return proof

    def prove_consistency(
        self, ledger: str, size1: int, size2: int | None = None
    ) -> ConsistencyProof:
        """Consistency proof between two checkpointed sizes (default: up to the latest)."""
        with queries.snapshot(self.db) as session:
            known = {cp.size: cp for cp in queries.checkpoints(session, ledger)}
            size2 = max(known, default=0) if size2 is None else size2
            if size1 not in known or size2 not in known:
                raise ProofUnavailable(
                    f"ledger {ledger}: no checkpoints at sizes {size1} and {size2}"
                )
            leaves = [h for _, h in queries.leaf_hashes(session, ledger, size2)]
        first, second = known[size1], known[size2]
        path = tuple(MerkleTree.build(leaves).consistency_proof(size1, size2))
        proof = ConsistencyProof(
            ledger, first.note, second.note, size1, size2, first.root, second.root, path
        )
        try:
            verify_consistency(size1, size2, first.root, second.root, path)
        except ValueError as exc:
            raise LedgerIntegrityError(f"ledger {ledger}: checkpoints disagree: {exc}") from exc
        return proof

    # -- verification and export --------------------------------------------

    def verify(
        self,
        against: Sequence[str | os.PathLike[str]] = (),
        *,
        pinned: NoteVerifier | None = None,
    ) -> VerificationReport:
        """Recompute every chain, tree and checkpoint signature from the database.

        ``against``: exports or published checkpoint files to hold the database
        to (the publish directory is always included). ``pinned``: trust only
        this key instead of the service's own.
        """
        published = [p for p in self.witness_paths if Path(p).expanduser().exists()]
        evidence = load_evidence([*published, *against])
        with queries.snapshot(self.db) as session:
            data = queries.load_ledgers(session)
        witnesses = list(evidence.checkpoints)
        extra = []
        by_name = {d.name: d for d in data}
        for label, other in evidence.exports:
            witnesses += [cp.note for d in other.ledgers.values() for cp in d.checkpoints]
            extra += compare_ledgers(by_name, other.ledgers, label)
        verifiers = (pinned,) if pinned is not None else self.verifiers
        report = verify_ledgers(
            data, verifiers=verifiers, origin=self.origin, witnesses=witnesses, complete=True
        )
        if extra:
            report = VerificationReport((*report.problems, *extra), report.ledgers, report.notices)
        return report

    def export(
        self, out: str | os.PathLike[str], ledgers: Sequence[str] | None = None
    ) -> ExportSummary:
        """Write the JSONL export (atomically) and return its summary and SHA-256.

        Each ledger ends with a checkpoint over every entry the export holds
        (signed now if the latest one is older), and the end line carries a
        signed seal over everything before it. A ledger that fails the
        checkpointer's checks is still exported, unanchored, and named in
        ``refused``.
        """
        target = Path(out).expanduser()
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        digest = hashlib.sha256()
        refused: list[str] = []
        sealed: list[tuple[str, int, bytes]] = []
        exported_at = self.clock().isoformat()
        with queries.snapshot(self.db) as session:
            names = list(ledgers) if ledgers is not None else queries.ledger_names(session)
            header = ExportHeader(
                self.origin, self.public_key, exported_at, ledgers is None, tuple(names)
            )
            heads = queries.heads(session)
            n_entries = n_checkpoints = 0
            with tmp.open("wb") as fh:

                def write(line: str) -> None:
                    data = line.encode("utf-8")
                    digest.update(data)
                    fh.write(data)

                write(header_line(header))
                for name in names:
                    stored = queries.stored_entries(session, name)
                    for entry in stored:
                        write(entry_line(name, entry))
                    n_entries += len(stored)
                    records = queries.checkpoints(session, name)
                    try:
                        fresh = self._final_checkpoint(session, name, stored, heads, records)
                    except LedgerIntegrityError as exc:
                        log.error("export: no final checkpoint: %s", exc)
                        refused.append(str(exc))
                        fresh = None
                    if fresh is not None:
                        records.append(fresh)
                    for cp in records:
                        write(checkpoint_line(cp))
                    n_checkpoints += len(records)
                    final = records[-1] if records else None
                    if final is not None and final.size == len(stored):
                        sealed.append((name, final.size, final.root))
                seal = ExportSeal(self.origin, exported_at, digest.hexdigest(), tuple(sealed))
                write(end_line(n_entries, n_checkpoints, sign_note(seal.text(), [self.signer])))
        tmp.replace(target)
        return ExportSummary(
            str(target),
            digest.hexdigest(),
            n_entries,
            n_checkpoints,
            tuple(names),
            tuple(refused),
        )

    def _final_checkpoint(
        self,
        session: Any,
        ledger: str,
        stored: Sequence[StoredEntry],
        heads: dict[str, HeadRecord],
        records: Sequence[CheckpointRecord],
    ) -> CheckpointRecord | None:
        """A checkpoint over all ``stored`` entries, signed (and stored) now if none exists."""
        size = len(stored)
        latest = records[-1] if records else None
        if size == 0 or (latest is not None and latest.size == size):
            return None
        head = heads.get(ledger)
        if head is None or head.size < size:
            raise LedgerIntegrityError(f"ledger {ledger}: head row does not cover its entries")
        last = stored[-1].leaf_hash or b""
        tree_root = self._root_for_signing(session, ledger, size, last, latest)
        note = sign_checkpoint_note(
            Checkpoint(ledger_origin(self.origin, ledger), size, tree_root), self.signer
        )
        self._store_checkpoint(ledger, size, tree_root, note)
        self._publish(ledger, size, note)
        return CheckpointRecord(ledger, size, tree_root, note, self.clock())


async def run_periodic_checkpoints(
    service: LedgerService, interval_s: float, stop: asyncio.Event
) -> None:
    """Sign checkpoints every ``interval_s`` until ``stop`` is set; errors are logged."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(service.checkpoint)
        except Exception:  # keep the task alive; the next tick retries
            log.exception("ledger checkpoint failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
