"""C2SP tlog-checkpoint: the signed statement "this log has size N and root R".

Body: origin line, decimal tree size, base64 root hash, optional extension
lines; wrapped in a signed note (see `sekisho.ledger.note`). Each ledger is its
own log with origin ``<origin prefix>/<ledger name>``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from sekisho.ledger.note import NoteError, NoteSigner, NoteVerifier, open_note, sign_note

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "SignedCheckpoint",
    "ledger_origin",
    "open_checkpoint",
    "parse_checkpoint_body",
    "sign_checkpoint",
]


class CheckpointError(ValueError):
    """A checkpoint is malformed or its signature does not verify."""


def ledger_origin(prefix: str, ledger: str) -> str:
    """The checkpoint origin of one ledger."""
    return f"{prefix}/{ledger}"


@dataclass(frozen=True)
class Checkpoint:
    """A log's size and root hash, as named by its origin."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The checkpoint text that gets signed."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse checkpoint text (without signatures); CheckpointError if malformed."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if (
        not size_text.isdigit()
        or not size_text.isascii()
        or (size_text != "0" and size_text.startswith("0"))
    ):
        raise CheckpointError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("checkpoint root is not valid base64") from exc
    if len(root) != 32:
        raise CheckpointError("checkpoint root is not a SHA-256 hash")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed-note text of ``checkpoint``."""
    return sign_note(checkpoint.body(), [signer])


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose signature verified."""

    checkpoint: Checkpoint
    note: str
    verified_by: tuple[NoteVerifier, ...]


def open_checkpoint(note: str, verifiers: Sequence[NoteVerifier]) -> SignedCheckpoint:
    """Verify a signed checkpoint against trusted keys and parse it."""
    try:
        opened = open_note(note, verifiers)
    except NoteError as exc:
        raise CheckpointError(str(exc)) from exc
    return SignedCheckpoint(parse_checkpoint_body(opened.text), note, opened.verified_by)
