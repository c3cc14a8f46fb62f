"""RFC 6962 Merkle tree: public vectors, every malformed proof, and property tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

from .vectors import RFC6962, proof_cases

INCLUSION = proof_cases("inclusion")
CONSISTENCY = proof_cases("consistency")


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written recursively as in the RFC."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_tree_roots_vector() -> None:
    data = json.loads((RFC6962 / "tree_roots.json").read_text())
    inputs = [bytes.fromhex(h) for h in data["leaf_inputs_hex"]]
    for size, want in enumerate(data["root_by_tree_size_hex"]):
        leaves = [leaf_hash(d) for d in inputs[:size]]
        assert root(leaves).hex() == want
        assert MerkleTree.build(leaves).root().hex() == want
        compact = CompactRange()
        for leaf in leaves:
            compact.append(leaf)
        assert compact.root().hex() == want
    assert root([]) == EMPTY_ROOT


def test_vector_sets_are_complete() -> None:
    assert (len(INCLUSION), len(CONSISTENCY)) == (98, 98)
    malformed = sum(1 for _, c in INCLUSION + CONSISTENCY if c["wantErr"])
    assert (malformed, _happy_count()) == (184, 12)


def _check_inclusion(case: dict[str, Any]) -> None:
    verify_inclusion(
        case["leafIdx"], case["treeSize"], case["leafHash"], case["proof"], case["root"]
    )


def _check_consistency(case: dict[str, Any]) -> None:
    verify_consistency(case["size1"], case["size2"], case["root1"], case["root2"], case["proof"])


@pytest.mark.parametrize(("name", "case"), INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vectors(name: str, case: dict[str, Any]) -> None:
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _check_inclusion(case)
    else:
        _check_inclusion(case)


@pytest.mark.parametrize(("name", "case"), CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vectors(name: str, case: dict[str, Any]) -> None:
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _check_consistency(case)
    else:
        _check_consistency(case)


def _happy_count() -> int:
    return sum(1 for _, c in INCLUSION + CONSISTENCY if not c["wantErr"])


def test_happy_vector_proofs_are_what_we_generate() -> None:
    data = json.loads((RFC6962 / "tree_roots.json").read_text())
    leaves = [leaf_hash(bytes.fromhex(h)) for h in data["leaf_inputs_hex"]]
    compared = 0
    for _, case in INCLUSION:
        size = case["treeSize"]
        if not case["wantErr"] and size <= 8 and case["root"] == root(leaves[:size]):
            assert inclusion_proof(case["leafIdx"], leaves[:size]) == case["proof"]
            compared += 1
    for _, case in CONSISTENCY:
        if not case["wantErr"] and 0 < case["size1"] < case["size2"] <= 8:
            assert consistency_proof(case["size1"], leaves[: case["size2"]]) == case["proof"]
            compared += 1
    assert compared >= 8


def test_every_proof_up_to_40_leaves_verifies() -> None:
    leaves = _leaves(40)
    tree = MerkleTree.build(leaves)
    for size in range(1, 41):
        r = _reference_root(leaves[:size])
        assert tree.root(size) == r == root(leaves[:size])
        for index in range(size):
            verify_inclusion(index, size, leaves[index], tree.inclusion_proof(index, size), r)
        for size1 in range(1, size + 1):
            proof = tree.consistency_proof(size1, size)
            verify_consistency(size1, size, tree.root(size1), r, proof)


@settings(deadline=None)  # CPU-shared CI must not flake on timing
@given(st.integers(1, 300), st.data())
def test_tampered_proofs_fail(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = MerkleTree.build(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = tree.inclusion_proof(index)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof]
        bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], bad, tree.root())
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"other"), proof, tree.root())
    size1 = data.draw(st.integers(1, size))
    cproof = tree.consistency_proof(size1)
    verify_consistency(size1, size, tree.root(size1), tree.root(), cproof)
    if size1 < size:
        with pytest.raises(ProofError):
            verify_consistency(size1, size, leaf_hash(b"x"), tree.root(), cproof)


def test_compact_range_matches_at_every_size() -> None:
    leaves = _leaves(200)
    compact = CompactRange()
    for i, leaf in enumerate(leaves):
        compact.append(leaf)
        assert compact.root() == _reference_root(leaves[: i + 1])


def test_large_tree_proofs_are_cheap() -> None:
    leaves = _leaves(100_003)
    tree = MerkleTree.build(leaves)
    r = tree.root()
    assert r == root(leaves)
    for index in (0, 1, 65_535, 65_536, 100_002):
        verify_inclusion(index, tree.size, leaves[index], tree.inclusion_proof(index), r)
    verify_consistency(70_000, tree.size, tree.root(70_000), r, tree.consistency_proof(70_000))


def test_out_of_range_requests() -> None:
    tree = MerkleTree.build(_leaves(3))
    with pytest.raises(ValueError):
        tree.inclusion_proof(3)
    with pytest.raises(ValueError):
        tree.consistency_proof(0)
    with pytest.raises(ValueError):
        tree.root(4)
