"""C2SP signed-note: Ed25519 signers, verifier key strings, signing and opening notes.

A note is UTF-8 text ending in a newline, followed by a blank line and one or
more signature lines ``— <key name> <base64(4-byte key id || signature)>``.
The key id of an Ed25519 key is the first 4 bytes of
SHA-256(name || 0x0A || 0x01 || public key). Verifier keys are written
``<name>+<hex key id>+<base64(0x01 || public key)>``; signer keys
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

__all__ = [
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "key_id",
    "open_note",
    "sign_note",
]

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # EM DASH, space
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or signature is malformed or does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    """4-byte key id of an Ed25519 note key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64") from exc


@lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    # Loading a key costs more than checking one signature; a ledger has one key.
    return Ed25519PublicKey.from_public_bytes(raw)


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    """An Ed25519 note verifier key."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def __str__(self) -> str:
        return self.encode()

    def encode(self) -> str:
        """The verifier key string ``<name>+<hex id>+<base64(0x01 || key)>``."""
        blob = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> NoteVerifier:
        """Parse a verifier key string; NoteError if malformed or its id is wrong."""
        parts = text.strip().split("+", 2)  # base64 may contain "+"
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<hex key id>+<base64 key>")
        name, hex_id, blob = parts
        raw = _b64decode(blob, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        verifier = cls(name, raw[1:])
        if hex_id.lower() != verifier.key_id.hex() or len(hex_id) != 8:
            raise NoteError("verifier key id does not match its name and key")
        return verifier

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            _public_key(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 note signer: a key name and a private key."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, _raw_public(self.private_key.public_key()))

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    def encode(self) -> str:
        """The secret signer key string (keep it private)."""
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def parse(cls, text: str) -> NoteSigner:
        """Parse a signer key string; NoteError if malformed."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<hex key id>+<base64 key>")
        raw = _b64decode(parts[4], "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 key")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if parts[3].lower() != signer.key_id.hex():
            raise NoteError("signer key id does not match its name and key")
        return signer

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any((ord(ch) < 0x20 and ch != "\n") or ch == "\x7f" for ch in text):
        raise NoteError("note text must not contain control characters")


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Return ``text`` followed by a signature line from each signer."""
    _check_text(text)
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")
    lines = []
    for signer in signers:
        blob = base64.b64encode(signer.key_id + signer.sign(text.encode())).decode()
        lines.append(f"{SIG_PREFIX}{signer.name} {blob}\n")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signature verified under at least one trusted key."""

    text: str
    verified_by: tuple[NoteVerifier, ...]


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> OpenedNote:
    """Verify ``note`` against trusted ``verifiers``; NoteError unless one verifies.

    Signatures by unknown keys are ignored; a signature that claims a trusted
    key (same name and key id) but does not verify is an error.
    """
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[NoteVerifier] = []
    for line in lines:
        name, sig = _parse_signature_line(line)
        verifier = known.get((name, sig[:4]))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), sig[4:]):
            raise NoteError(f"invalid signature by key {name}")
        verified.append(verifier)
    if not verified:
        raise NoteError("note is not signed by a trusted key")
    return OpenedNote(text, tuple(verified))


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIG_PREFIX):
        raise NoteError("malformed signature line")
    parts = line[len(SIG_PREFIX) :].split(" ")
    if len(parts) != 2 or not parts[0]:
        raise NoteError("malformed signature line")
    sig = _b64decode(parts[1], "signature")
    if len(sig) < 5:
        raise NoteError("signature is too short")
    return parts[0], sig
