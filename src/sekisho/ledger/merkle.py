"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

leaf = SHA-256(0x00 || data); node = SHA-256(0x01 || left || right); the tree
over n leaves splits at the largest power of two below n; the empty tree's
root is SHA-256(""). Leaf indices are 0-based.

Trees are built level by level with the lone last node of an odd level carried
up unchanged, which yields exactly the RFC 6962 tree: ``levels[k][i]`` is the
root of the subtree over leaves ``[i * 2**k, min((i + 1) * 2**k, n))``. Every
subtree that a proof needs has that shape, so proofs cost O(log n) lookups
once the levels are built (O(n) hashes).

Verification follows RFC 9162 section 2.1.3.2 / 2.1.4.2 in the formulation
of transparency-dev/merkle, and additionally refuses consistency proofs from
an empty tree, which prove nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof is malformed or does not verify."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash over ``leaf_hashes`` (iterative, O(n) hashes, O(n) memory)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    sha = hashlib.sha256
    pairs = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        pairs.append(level[-1])
    return pairs


@dataclass(frozen=True)
class MerkleTree:
    """All levels of the tree over a fixed list of leaf hashes; answers proofs quickly."""

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaf_hashes: Sequence[bytes]) -> MerkleTree:
        """Hash every level once (O(n))."""
        levels = [tuple(leaf_hashes)]
        while len(levels[-1]) > 1:
            levels.append(tuple(_next_level(levels[-1])))
        return cls(tuple(levels))

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """Root of the tree over the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} out of range 0..{self.size}")
        if size == 0:
            return EMPTY_ROOT
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree over the first ``size`` leaves."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size1`` leaves is a prefix of the one of ``size2``."""
        size2 = self.size if size2 is None else size2
        if not 0 < size1 <= size2 <= self.size:
            raise ValueError(f"no consistency proof from size {size1} to size {size2}")
        return self._subproof(size1, 0, size2, True)

    def _range_hash(self, start: int, count: int) -> bytes:
        # Only called for subtrees [start, start+count) with start aligned to the
        # enclosing power of two and either count == 2**k or start+count == size.
        k = (count - 1).bit_length()
        if start + count != self.size and count != 1 << k:
            return self._split_hash(start, count)
        return self.levels[k][start >> k]

    def _split_hash(self, start: int, count: int) -> bytes:
        k = _split_point(count)
        return node_hash(self._range_hash(start, k), self._range_hash(start + k, count - k))

    def _path(self, index: int, start: int, count: int) -> list[bytes]:
        proof: list[bytes] = []
        while count > 1:
            k = _split_point(count)
            if index < k:
                proof.append(self._range_hash(start + k, count - k))
                count = k
            else:
                proof.append(self._range_hash(start, k))
                index, start, count = index - k, start + k, count - k
        proof.reverse()
        return proof

    def _subproof(self, m: int, start: int, count: int, complete: bool) -> list[bytes]:
        # RFC 6962 section 2.1.2 SUBPROOF, unrolled.
        proof: list[bytes] = []
        while m != count:
            k = _split_point(count)
            if m <= k:
                proof.append(self._range_hash(start + k, count - k))
                count = k
            else:
                proof.append(self._range_hash(start, k))
                m, start, count, complete = m - k, start + k, count - k, False
        if not complete:
            proof.append(self._range_hash(start, count))
        proof.reverse()
        return proof


def _split_point(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree over ``leaf_hashes``."""
    return MerkleTree.build(leaf_hashes).inclusion_proof(index)


def consistency_proof(size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from the first ``size1`` leaves to all of ``leaf_hashes``."""
    return MerkleTree.build(leaf_hashes).consistency_proof(size1)


class CompactRange:
    """Streaming tree hasher: append leaves, ask for the root at any size in O(log n)."""

    def __init__(self) -> None:
        self._size = 0
        self._peaks: list[bytes] = []  # roots of perfect subtrees, largest first

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash."""
        node = leaf
        n = self._size
        while n & 1:
            node = node_hash(self._peaks.pop(), node)
            n >>= 1
        self._peaks.append(node)
        self._size += 1

    def root(self) -> bytes:
        """Root of the tree over every leaf appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        node = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            node = node_hash(peak, node)
        return node


def _inner_proof_size(index: int, size: int) -> int:
    return (index ^ (size - 1)).bit_length()


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _check_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise ProofError(f"proof element {i} is {len(h)} bytes, want {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """Recompute the root implied by an inclusion proof; ProofError if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash is {len(leaf)} bytes, want {HASH_SIZE}")
    _check_hashes(proof)
    inner = _inner_proof_size(index, size)
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise ProofError(f"proof has {len(proof)} elements, want {inner + border}")
    res = _chain_inner(leaf, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` in the tree ``expected_root``."""
    got = root_from_inclusion_proof(index, size, leaf, proof)
    if got != expected_root:
        raise ProofError("calculated root does not match the expected root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless ``proof`` shows tree (size1, root1) is a prefix of (size2, root2)."""
    if size1 < 0 or size2 < size1:
        raise ProofError(f"size2 ({size2}) is smaller than size1 ({size1})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if root1 != root2:
            raise ProofError("sizes are equal but the roots differ")
        return
    if not proof:
        raise ProofError("empty proof")
    _check_hashes(proof)
    level = (size1 & -size1).bit_length() - 1  # trailing zeros
    index = (size1 - 1) >> level
    size = ((size2 - 1) >> level) + 1
    inner = _inner_proof_size(index, size)
    border = bin(index >> inner).count("1")
    # When size1 is a power of two the first root is the seed and not in the proof.
    seed, start = (root1, 0) if index == 0 else (proof[0], 1)
    if len(proof) != start + inner + border:
        raise ProofError(f"proof has {len(proof)} elements, want {start + inner + border}")
    rest = proof[start:]
    hash1 = _chain_border_right(_chain_inner_right(seed, rest[:inner], index), rest[inner:])
    if hash1 != root1:
        raise ProofError("proof does not reproduce the first root")
    hash2 = _chain_border_right(_chain_inner(seed, rest[:inner], index), rest[inner:])
    if hash2 != root2:
        raise ProofError("proof does not reproduce the second root")
