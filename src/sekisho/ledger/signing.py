"""Entry signatures: proof that the gateway's key, not just database access, wrote an entry.

Every appended entry carries an Ed25519 signature (the ledger's checkpoint key)
over ``ENTRY_SIG_CONTEXT || leaf hash``; the leaf hash covers the whole body,
its ledger name and seq. A row INSERTed with database access alone has no
valid signature, so verification (online and offline, with the public key
only) names it and the checkpointer refuses to anchor it.

The signer reaches `append` through the session: whoever builds a runtime
(gateway, CLI, demo) calls `attach_entry_signer(db, ...)`, and
`Database.begin()` hands it to every write session as ``session.info``.
Entries written before signatures existed carry none; they are accepted only
where a signed checkpoint already vouches for them (see `check_signatures`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sekisho.ledger.note import NoteSigner, NoteVerifier

__all__ = [
    "ENTRY_SIG_CONTEXT",
    "SESSION_KEY",
    "SignatureProblem",
    "attach_entry_signer",
    "attach_from_settings",
    "check_signatures",
    "entry_signature_message",
    "signer_for_session",
]

log = logging.getLogger(__name__)

ENTRY_SIG_CONTEXT = b"sekisho ledger entry signature v1\n"
SESSION_KEY = "sekisho.ledger.entry_signer"


class _HasSessionInfo(Protocol):
    session_info: dict[str, Any]


class _LedgerKeySettings(Protocol):
    signing_key_path: str
    origin: str


def entry_signature_message(leaf: bytes) -> bytes:
    """The bytes an entry signature is made over."""
    return ENTRY_SIG_CONTEXT + leaf


def sign_leaf(signer: NoteSigner, leaf: bytes) -> bytes:
    """The 64-byte Ed25519 signature stored with an entry."""
    return signer.sign(entry_signature_message(leaf))


def attach_entry_signer(db: _HasSessionInfo, signer: NoteSigner | Callable[[], NoteSigner]) -> None:
    """Make every write session of ``db`` sign the entries it appends.

    ``signer`` may be a zero-argument function, called on the first append
    (so read-only commands never touch the key file).
    """
    resolve: Callable[[], NoteSigner]
    if isinstance(signer, NoteSigner):
        fixed = signer

        def resolve() -> NoteSigner:
            return fixed
    else:
        resolve = cache(signer)
    db.session_info[SESSION_KEY] = resolve


def attach_from_settings(db: _HasSessionInfo, ledger: _LedgerKeySettings) -> None:
    """Attach the key at ``ledger.signing_key_path`` (loaded, or created, on first append)."""
    from sekisho.ledger.keyfile import load_or_create_signing_key

    path, name = ledger.signing_key_path, ledger.origin
    attach_entry_signer(db, lambda: load_or_create_signing_key(path, name))


def signer_for_session(info: dict[str, Any]) -> NoteSigner | None:
    """The signer attached to a session, or None (the entry is then written unsigned)."""
    resolve = info.get(SESSION_KEY)
    if resolve is None:
        log.warning(
            "ledger entry appended without the signing key: verification will flag it "
            "(build the database handle with sekisho.ledger.signing.attach_from_settings)"
        )
        return None
    signer = resolve()
    assert isinstance(signer, NoteSigner)
    return signer


@dataclass(frozen=True)
class SignatureProblem:
    """An entry whose signature is missing or does not verify."""

    seq: int
    reason: str


def check_signatures(
    leaves: Sequence[bytes],
    sigs: Sequence[bytes | None],
    verifiers: Sequence[NoteVerifier],
    *,
    start: int = 0,
    vouched: int = 0,
) -> list[SignatureProblem]:
    """Every entry from ``start`` must be signed by one of ``verifiers``.

    ``vouched``: entries below this seq are covered by a valid signed
    checkpoint; an entry there that has no signature at all predates entry
    signatures and is accepted (a present but wrong signature never is).
    """
    problems = []
    for seq, (leaf, sig) in enumerate(zip(leaves, sigs, strict=True), start=start):
        if sig is None or sig == b"":
            if seq >= vouched:
                problems.append(
                    SignatureProblem(
                        seq, "entry carries no signature (written without the gateway's key)"
                    )
                )
            continue
        message = entry_signature_message(leaf)
        if len(sig) != 64 or not any(v.verify(message, sig) for v in verifiers):
            problems.append(
                SignatureProblem(
                    seq,
                    "entry signature does not verify with the ledger key "
                    "(written without the gateway's key, or the body was altered)",
                )
            )
    return problems
