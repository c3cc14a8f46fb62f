"""Proof objects handed to auditors, and their stand-alone verification (pure)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sekisho.ledger.checkpoint import CheckpointError, ledger_origin, open_checkpoint
from sekisho.ledger.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from sekisho.ledger.note import NoteVerifier

__all__ = ["ConsistencyProof", "InclusionProof", "check_inclusion_proof"]


@dataclass(frozen=True)
class InclusionProof:
    """Entry ``seq`` (its exact body) is leaf ``seq`` of the checkpointed tree."""

    ledger: str
    seq: int
    body: bytes
    tree_size: int
    root: bytes
    path: tuple[bytes, ...]
    checkpoint: str

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.body)

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "seq": self.seq,
            "body": self.body.decode("utf-8"),
            "leaf_hash": self.leaf_hash.hex(),
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "proof": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> InclusionProof:
        return cls(
            ledger=doc["ledger"],
            seq=int(doc["seq"]),
            body=doc["body"].encode("utf-8"),
            tree_size=int(doc["tree_size"]),
            root=bytes.fromhex(doc["root"]),
            path=tuple(bytes.fromhex(p) for p in doc["proof"]),
            checkpoint=doc["checkpoint"],
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree at ``size1`` is a prefix of the tree at ``size2``."""

    ledger: str
    checkpoint1: str
    checkpoint2: str
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "size1": self.size1,
            "size2": self.size2,
            "root1": self.root1.hex(),
            "root2": self.root2.hex(),
            "proof": [p.hex() for p in self.path],
            "checkpoint1": self.checkpoint1,
            "checkpoint2": self.checkpoint2,
        }

    def check(self) -> None:
        """ProofError unless the proof links the two roots."""
        verify_consistency(self.size1, self.size2, self.root1, self.root2, self.path)


def check_inclusion_proof(
    proof: InclusionProof, verifiers: Sequence[NoteVerifier], origin: str
) -> None:
    """Verify a proof end to end: checkpoint signature, origin, size, root, audit path.

    Raises ProofError naming what does not hold.
    """
    try:
        cp = open_checkpoint(proof.checkpoint, verifiers).checkpoint
    except CheckpointError as exc:
        raise ProofError(f"checkpoint: {exc}") from exc
    if cp.origin != ledger_origin(origin, proof.ledger):
        raise ProofError(f"checkpoint is for {cp.origin!r}, not ledger {proof.ledger}")
    if (cp.size, cp.root) != (proof.tree_size, proof.root):
        raise ProofError(
            f"proof is against size {proof.tree_size} root "
            f"{base64.b64encode(proof.root).decode()}, the checkpoint says otherwise"
        )
    verify_inclusion(proof.seq, proof.tree_size, proof.leaf_hash, proof.path, proof.root)
